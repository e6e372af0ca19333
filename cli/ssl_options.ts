/**
 * The TLS options every subcommand that peers over Broker takes, named as
 * Broker's config names them (`--broker.ssl.certificate` ...), and how they
 * become `Endpoint` options: plain TCP with `--disable-ssl`; otherwise TLS,
 * with the certificates given, or in Broker's anonymous mode without any
 * `broker.ssl` setting, as Broker's SSL (and Zeek's) is on by default. So
 * every subcommand reaches the others, a C++ tool and a Zeek on their
 * defaults alike.
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

/**
 * The help of `--disable-ssl`, one wording in every subcommand: broker-node's,
 * and what happens without it.
 *
 * @example
 * ```ts
 * import { Command } from "@commander-js/extra-typings";
 * import { DISABLE_SSL_HELP } from "./ssl_options.ts";
 * new Command("store").option("--disable-ssl", DISABLE_SSL_HELP);
 * ```
 */
export const DISABLE_SSL_HELP =
  "forces Broker to use unencrypted communication (without it: TLS, anonymous without certificates)";

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
 * TCP. Otherwise TLS, as Broker's default (and Zeek's) is SSL on: with the
 * certificates given, or Broker's anonymous mode without any `broker.ssl`
 * setting. Our library `Endpoint` alone keeps plain TCP as its default.
 * Files that cannot be read, a certificate without its key (or with a key
 * not its own, or an encrypted one without its passphrase) are a
 * `UsageError` (exit 2), found here before anything runs, in every
 * subcommand alike.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { endpointSslOptions } from "./ssl_options.ts";
 * deepEqual(endpointSslOptions({}), { disableSsl: false, ssl: {} });
 * deepEqual(endpointSslOptions({ disableSsl: true }), { disableSsl: true });
 * ```
 */
export function endpointSslOptions(cli: SslCliValues): { disableSsl: boolean; ssl?: SslOptions } {
  if (cli.disableSsl) return { disableSsl: true };
  const ssl = sslFromCli(cli);
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
