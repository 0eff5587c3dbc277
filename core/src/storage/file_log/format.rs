//! The on-disk format of a [`FileLog`](super::FileLog) file.
//!
//! ```text
//! file   = header frame*
//! header = magic "SYNODLOG" (8) | version u32 LE | crc32c(magic, version) u32 LE      16 bytes
//! frame  = header_crc u32 | len u32 | kind u8 | id u64 | data_crc u32 | data[len] | 0xA5
//!          header_crc = crc32c(len, kind, id, data_crc); data_crc = crc32c(data)
//! ```
//!
//! Two checksums, so a length is trusted only once its own header checksum holds: a flipped
//! bit in an old length can never be mistaken for a torn tail. The trailing `0xA5` tells a
//! complete frame from one a filesystem extended with zeros but never finished writing.

/// The file magic.
pub const MAGIC: [u8; 8] = *b"SYNODLOG";
/// The format version this code writes and reads.
pub const VERSION: u32 = 1;
/// Bytes of the file header.
pub const FILE_HEADER_LEN: u64 = 16;
/// Bytes of a frame header.
pub const FRAME_HEADER_LEN: usize = 21;
/// The byte every complete frame ends with.
pub const TRAILER: u8 = 0xA5;
/// Bytes a frame adds around its data.
pub const FRAME_OVERHEAD: u64 = FRAME_HEADER_LEN as u64 + 1;

/// A record the user appended.
pub const KIND_RECORD: u8 = 1;
/// A trim mark: records before it in the file with `id < mark` are gone.
pub const KIND_TRIM: u8 = 2;

/// The 16-byte file header.
pub fn file_header() -> [u8; FILE_HEADER_LEN as usize] {
    let mut h = [0u8; FILE_HEADER_LEN as usize];
    h[..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    let crc = crc32c::crc32c(&h[..12]);
    h[12..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Why a file header is not ours, if it is not.
pub fn check_file_header(h: &[u8]) -> Result<(), String> {
    let magic = h.get(..8).ok_or("file shorter than its header")?;
    if magic != MAGIC {
        return Err(format!("not a synodos log (magic {magic:02x?})"));
    }
    let version = u32_at(h, 8).ok_or("file shorter than its header")?;
    let crc = u32_at(h, 12).ok_or("file shorter than its header")?;
    if crc != crc32c::crc32c(&h[..12]) {
        return Err("file header checksum mismatch".into());
    }
    if version != VERSION {
        return Err(format!("format version {version}, this build reads version {VERSION}"));
    }
    Ok(())
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)?.try_into().ok().map(u32::from_le_bytes)
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at + 8)?.try_into().ok().map(u64::from_le_bytes)
}

/// Append one frame to `out`. `data.len()` must fit in a `u32` (checked by the caller).
pub fn encode_frame(out: &mut Vec<u8>, kind: u8, id: u64, data: &[u8]) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.push(kind);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(data).to_le_bytes());
    let header_crc = crc32c::crc32c(&out[start + 4..start + FRAME_HEADER_LEN]);
    out[start..start + 4].copy_from_slice(&header_crc.to_le_bytes());
    out.extend_from_slice(data);
    out.push(TRAILER);
}

/// A frame header whose checksum holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Bytes of data.
    pub len: u32,
    /// [`KIND_RECORD`] or [`KIND_TRIM`] (others are refused by the reader).
    pub kind: u8,
    /// The record id, or the trim mark.
    pub id: u64,
    /// crc32c of the data.
    pub data_crc: u32,
}

impl FrameHeader {
    /// Bytes of the whole frame.
    pub fn frame_len(&self) -> u64 {
        u64::from(self.len) + FRAME_OVERHEAD
    }
}

/// Decode a frame header; `None` if its checksum does not hold (or `h` is short).
pub fn decode_header(h: &[u8]) -> Option<FrameHeader> {
    let crc = u32_at(h, 0)?;
    let body = h.get(4..FRAME_HEADER_LEN)?;
    if crc32c::crc32c(body) != crc {
        return None;
    }
    Some(FrameHeader { len: u32_at(h, 4)?, kind: *h.get(8)?, id: u64_at(h, 9)?, data_crc: u32_at(h, 17)? })
}

/// Whether the data and trailer of a whole frame (`frame` starts at its header) hold.
pub fn body_ok(header: &FrameHeader, frame: &[u8]) -> bool {
    let end = FRAME_HEADER_LEN + header.len as usize;
    match (frame.get(FRAME_HEADER_LEN..end), frame.get(end)) {
        (Some(data), Some(&TRAILER)) => crc32c::crc32c(data) == header.data_crc,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_round_trips_and_any_flipped_bit_is_caught() {
        let mut buf = Vec::new();
        encode_frame(&mut buf, KIND_RECORD, 0x0102_0304_0506_0708, b"hello");
        assert_eq!(buf.len() as u64, 5 + FRAME_OVERHEAD);
        let h = decode_header(&buf).unwrap();
        assert_eq!((h.len, h.kind, h.id), (5, KIND_RECORD, 0x0102_0304_0506_0708));
        assert!(body_ok(&h, &buf));
        for bit in 0..buf.len() * 8 {
            let mut bad = buf.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            let caught = match decode_header(&bad) {
                None => true,
                Some(h2) => !body_ok(&h2, &bad),
            };
            assert!(caught, "flip of bit {bit} went unnoticed");
        }
    }

    #[test]
    fn the_file_header_is_checked() {
        let h = file_header();
        assert!(check_file_header(&h).is_ok());
        let mut other = h;
        other[0] = b'X';
        assert!(check_file_header(&other).unwrap_err().contains("not a synodos log"));
        let mut newer = h;
        newer[8] = 2;
        assert!(check_file_header(&newer).unwrap_err().contains("checksum"));
        assert!(check_file_header(&h[..10]).is_err());
    }
}
