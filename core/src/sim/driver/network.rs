//! The simulated network: transports to acceptors that lose, duplicate, delay and cut.

use super::*;

#[derive(Clone, Debug)]
pub(super) enum Call {
    Prepare(Request),
    Accept(Proposal),
    AcceptBatch(Batch),
    Observe(Request),
}

pub(super) enum Answer {
    Promise(Result<Promise>),
    Proposal(Result<Proposal>),
    List(Result<Vec<Proposal>>),
}

pub(super) type ReplyTo = Rc<RefCell<Option<oneshot::Sender<Answer>>>>;

/// A transport to one acceptor.
#[derive(Clone)]
pub(super) struct SimClient {
    pub(super) world: Rc<World>,
    /// The writer whose process this client lives in (`None` for readers).
    pub(super) writer: Option<usize>,
    pub(super) node: u16,
    pub(super) acceptor: usize,
    pub(super) strip_frontier: bool,
    pub(super) direct: bool,
}

impl SimClient {
    pub(super) async fn call(&self, call: Call) -> Result<Answer> {
        if self.direct {
            let Some(acceptor) = self.world.async_instance(self.acceptor) else {
                return Err(Error::Closed("sim: acceptor process is down".into()));
            };
            return Ok(match call {
                Call::Prepare(r) => Answer::Promise(acceptor.prepare(&r).await),
                Call::Accept(p) => Answer::Proposal(acceptor.accept(&p).await),
                Call::AcceptBatch(b) => Answer::Proposal(acceptor.accept_batch(&b).await),
                Call::Observe(r) => Answer::List(acceptor.accepted_from(&r).await),
            });
        }
        let (tx, rx) = oneshot::channel();
        if let (Some(w), Call::Accept(_) | Call::AcceptBatch(_)) = (self.writer, &call) {
            if self.world.dies_sending(w) {
                return futures::future::pending().await;
            }
            self.world.writers.borrow_mut()[w].accepts_sent.insert(self.acceptor);
        }
        self.world.send_request(self.node, self.acceptor, call, Rc::new(RefCell::new(Some(tx))));
        match rx.await {
            Ok(answer) => Ok(answer),
            // Lost on the way: the call hangs until the proposer's timeout.
            Err(_) => futures::future::pending().await,
        }
    }
}

pub(super) fn wrong_answer<T>() -> Result<T> {
    Err(Error::transport("sim: an answer of the wrong kind"))
}

impl AcceptorClient for SimClient {
    async fn prepare(&self, request: &Request) -> Result<Promise> {
        match self.call(Call::Prepare(request.clone())).await? {
            Answer::Promise(r) => r.map(|mut p| {
                if self.strip_frontier {
                    p.frontier = None;
                }
                p
            }),
            _ => wrong_answer(),
        }
    }
    async fn accept(&self, proposal: &Proposal) -> Result<Proposal> {
        match self.call(Call::Accept(proposal.clone())).await? {
            Answer::Proposal(r) => r,
            _ => wrong_answer(),
        }
    }
    async fn accept_batch(&self, batch: &Batch) -> Result<Proposal> {
        {
            let mut o = self.world.outcome.borrow_mut();
            o.batches += 1;
            o.batched_appends += batch.entries.len() as u64;
        }
        match self.call(Call::AcceptBatch(batch.clone())).await? {
            Answer::Proposal(r) => r,
            _ => wrong_answer(),
        }
    }
    async fn observe(&self, request: &Request) -> Result<Vec<Proposal>> {
        match self.call(Call::Observe(request.clone())).await? {
            Answer::List(r) => r,
            _ => wrong_answer(),
        }
    }
}

impl World {
    pub(super) fn cut_link(&self, node: u16) {
        let (a, until) = self.draw(|rng, s| (rng.usize(..s.kinds.len()), 30 + rng.u64(0..120)));
        let heal = self.now.get() + until;
        self.cut.borrow_mut().insert((node, a), heal);
    }

    pub(super) fn is_cut(&self, node: u16, a: usize) -> bool {
        self.cut.borrow().get(&(node, a)).is_some_and(|heal| self.now.get() < *heal)
    }

    pub(super) fn send_request(&self, from: u16, to: usize, call: Call, reply: ReplyTo) {
        if self.faulty() && self.is_cut(from, to) {
            return;
        }
        let copies = if !self.faulty() {
            1
        } else if self.chance(self.scenario.loss) {
            0
        } else if self.chance(self.scenario.duplication) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = self.draw(|rng, s| rng.u64(1..=s.max_delay));
            self.schedule(delay, Event::Deliver { to, call: call.clone(), reply: reply.clone() });
        }
    }

    pub(super) fn send_reply(&self, reply: ReplyTo, answer: Answer) {
        if self.faulty() && self.chance(self.scenario.loss) {
            return;
        }
        let delay = self.draw(|rng, s| rng.u64(1..=s.max_delay));
        self.schedule(delay, Event::Reply { reply, answer });
    }

    /// Whether writer `w` dies as it sends an accept (and so sends no more).
    pub(super) fn dies_sending(&self, w: usize) -> bool {
        let (dying, incarnation) = {
            let writers = self.writers.borrow();
            (writers[w].dying, writers[w].incarnation)
        };
        if dying {
            return true;
        }
        if self.faulty() && self.chance(self.scenario.crash_mid_accept) {
            self.writers.borrow_mut()[w].dying = true;
            self.schedule(0, Event::WriterCrash(w, incarnation));
            return true;
        }
        false
    }
}
