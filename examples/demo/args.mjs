// The demo programs' command lines: `--name value` pairs, checked against what each takes.
export function parseArgs(argv, spec, usage) {
  const out = { ...spec.defaults };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const name = a.startsWith('--') ? a.slice(2) : undefined;
    if (name === 'help') {
      process.stdout.write(usage);
      process.exit(0);
    }
    if (!name || !spec.names.includes(name) || i + 1 >= argv.length) fail(`bad argument ${a}`, usage);
    out[name] = argv[++i];
  }
  for (const n of spec.required) if (out[n] === undefined) fail(`--${n} is required`, usage);
  return out;
}

export function fail(message, usage) {
  process.stderr.write(`error: ${message}\n${usage ?? ''}`);
  process.exit(2);
}
