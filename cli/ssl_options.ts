/**
 * The TLS options every peering subcommand takes, named as Broker's config
 * names them (`--broker.ssl.certificate` ...), and how they become
 * `Endpoint` options: plain TCP with `--disable-ssl`; otherwise TLS when a
 * setting is given, and for Broker's own tools' stand-ins (`node`, `pipe`)
 * also without one, in Broker's anonymous mode, as their SSL is on by default.
 *
 * @module
 */
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import { loadTlsMaterial, type SslOptions } from "../engine/transport/tls.ts";
import { BrokerError } from "../engine/errors.ts";
import { UsageError } from "./cli_values.ts";

/** The option values as commander hands them over. */
export interface SslCliValues {
  /** `--disable-ssl`: plain TCP even with certificates given. */
  disableSsl?: boolean;
  /** This endpoint's PEM certificate. */
  "broker.ssl.certificate"?: string;
  /** Its PEM private key. */
  "broker.ssl.key"?: string;
  /** PEM file of trusted CAs. */
  "broker.ssl.cafile"?: string;
  /** Directory of trusted CA files. */
  "broker.ssl.capath"?: string;
  /** Passphrase of an encrypted key. */
  "broker.ssl.passphrase"?: string;
}

/** The `broker.ssl.*` settings Broker has, in its order. */
export const SSL_KEYS = ["certificate", "key", "cafile", "capath", "passphrase"] as const;

/**
 * Adds `--broker.ssl.*` to a command (its `--disable-ssl` stays its own).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { Command } from "@commander-js/extra-typings";
 * import { addSslOptions } from "./ssl_options.ts";
 * const cmd = addSslOptions(new Command("pipe"));
 * equal(cmd.options.length, 5);
 * ```
 */
export function addSslOptions<C extends CommandUnknownOpts>(cmd: C): C {
  cmd
    .option("--broker.ssl.certificate <path>", "PEM certificate of this endpoint (TLS)")
    .option("--broker.ssl.key <path>", "its PEM private key")
    .option("--broker.ssl.cafile <path>", "PEM file of trusted CA certificates")
    .option("--broker.ssl.capath <dir>", "directory of trusted CA certificates")
    .option("--broker.ssl.passphrase <text>", "passphrase to decrypt the private key");
  return cmd;
}

/**
 * The `broker.ssl.*` values given on the command line.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { sslFromCli } from "./ssl_options.ts";
 * deepEqual(sslFromCli({ "broker.ssl.cafile": "ca.pem" }), { cafile: "ca.pem" });
 * ```
 */
export function sslFromCli(cli: SslCliValues): SslOptions {
  const ssl: SslOptions = {};
  for (const k of SSL_KEYS) {
    const v = cli[`broker.ssl.${k}`];
    if (v !== undefined) ssl[k] = v;
  }
  return ssl;
}

/**
 * `Endpoint` options for a subcommand. `--disable-ssl` always means plain
 * TCP. Otherwise, with `sslByDefault` (`broker pipe`, as `broker-pipe`, whose
 * Broker has SSL on by default), TLS: with the certificates given, or
 * Broker's anonymous mode without any `broker.ssl` setting. Without it (our
 * own subcommands, as our `Endpoint`), TLS only when a setting is given.
 * Files that cannot be read, a certificate without its key (or with a key
 * not its own, or an encrypted one without its passphrase) are a
 * `UsageError` (exit 2), found here before anything runs, in every
 * subcommand alike.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { endpointSslOptions } from "./ssl_options.ts";
 * deepEqual(endpointSslOptions({}), { disableSsl: true });
 * deepEqual(endpointSslOptions({}, true), { disableSsl: false, ssl: {} });
 * deepEqual(endpointSslOptions({ disableSsl: true }, true), { disableSsl: true });
 * ```
 */
export function endpointSslOptions(
  cli: SslCliValues,
  sslByDefault = false,
): { disableSsl: boolean; ssl?: SslOptions } {
  const ssl = sslFromCli(cli);
  if (cli.disableSsl || (!sslByDefault && Object.keys(ssl).length === 0)) {
    return { disableSsl: true };
  }
  checkTlsMaterial(ssl);
  return { disableSsl: false, ssl };
}

/**
 * Reads what an endpoint with TLS reads at its start (the files are small),
 * to find before anything runs what it would fail on: a file that cannot be
 * read, a certificate without its key or with another one. Throws a
 * `UsageError` (exit 2).
 *
 * @example
 * ```ts
 * import { throws } from "node:assert/strict";
 * import { checkTlsMaterial } from "./ssl_options.ts";
 * import { UsageError } from "./cli_values.ts";
 * throws(() => checkTlsMaterial({ certificate: "cert.pem" }), UsageError);
 * ```
 */
export function checkTlsMaterial(ssl: SslOptions): void {
  try {
    loadTlsMaterial(ssl);
  } catch (e) {
    if (e instanceof BrokerError) throw new UsageError("", e.message);
    throw e;
  }
}
