/**
 * Process warnings as pfsd log lines. Node prints a warning as free text on stderr
 * ("(node:123) [DEP0123] DeprecationWarning: …"), which breaks pfsd's one-JSON-object-per-line
 * logs; `logProcessWarnings` replaces that printer with the node's logger: each warning is one
 * structured `warn` line (name, code, message), once per distinct code and message.
 *
 * DEP0123 ("Setting the TLS ServerName to an IP address is not permitted by RFC 6066") is
 * logged once at debug instead: grpc-js names the dialled host as the TLS server name, and the
 * nodes of a local or test cluster dial each other by IP address; the certificate is still
 * checked against the IP (its subjectAltName), so nothing is wrong for an operator to fix.
 */
import type { Logger } from "../pkg/common/index.js";

/** Node's code for the TLS ServerName-is-an-IP deprecation. */
const ipServerNameWarning = "DEP0123";

/** Routes this process's warnings to `logger` (call once, before anything can warn). */
export function logProcessWarnings(logger: Logger): void {
  const seen = new Set<string>();
  process.removeAllListeners("warning");
  process.on("warning", (warning: Error & { code?: unknown }) => {
    const code = typeof warning.code === "string" ? warning.code : "";
    const key = `${code}\0${warning.message}`;
    if (seen.has(key)) return;
    seen.add(key);
    const fields = { name: warning.name, code, warning: warning.message };
    if (code === ipServerNameWarning) {
      logger.debug("TLS dials an IP address by name (the certificate's IP SAN is checked)",
        fields);
    } else {
      logger.warn("process warning", fields);
    }
  });
}
