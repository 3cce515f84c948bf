#!/usr/bin/env node
import { parseArgs } from "node:util";
import { InitError, init } from "./init";

const USAGE = `Usage: stepflare init [--config <path>] [--print] [--no-migrate]

Adds the D1, Queues and Durable Object bindings Stepflare needs to your
wrangler config (only what is missing; it refuses when a binding of the same
name differs), points migrations_dir at this package's migrations, and
applies them locally (wrangler d1 migrations apply DB --local).

  --config <path>  the wrangler config (default: wrangler.toml, .jsonc or .json here)
  --print          print what would be added; write nothing
  --no-migrate     do not apply the migrations locally`;

function main(argv: string[]): number {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) {
    process.stdout.write(`${USAGE}\n`);
    return positionals.length === 0 && !values.help ? 2 : 0;
  }
  if (positionals[0] !== "init" || positionals.length > 1) {
    process.stderr.write(`unknown command: ${positionals.join(" ")}\n\n${USAGE}\n`);
    return 2;
  }
  try {
    init({
      cwd: process.cwd(),
      print: values.print === true,
      migrate: values["no-migrate"] !== true,
      ...(values.config ? { config: values.config } : {}),
    });
    return 0;
  } catch (e) {
    if (!(e instanceof InitError)) throw e;
    process.stderr.write(`stepflare init: ${e.message}\n`);
    return 1;
  }
}

const parse = (argv: string[]) =>
  parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: "string" },
      print: { type: "boolean" },
      "no-migrate": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });

process.exitCode = main(process.argv.slice(2));
