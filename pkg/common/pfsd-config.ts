/**
 * The pfsd configuration schema: etcd's own flags with etcd's meanings and defaults (so a pfsd
 * started with only those is a plain etcd-compatible member), then pfs's flags. Environment
 * variables work as in etcd: `ETCD_<FLAG>` for etcd's flags, `PFSD_<FLAG>` for pfs's.
 */
import { ConfigError } from "./errors.js";
import {
  type ConfigOf,
  type FieldSpec,
  type HostPort,
  booleanField,
  enumField,
  integerField,
  optionalHostPortField,
  optionalStringField,
  parseUrl,
  resolveConfig,
  stringField,
  urlListField,
  type ConfigSources,
} from "./config.js";
import {
  etcdQuotaBytesDefault,
  etcdRequestBytesMax,
  pfsDeadTimeSecondsDefault,
  pfsMasterLeaseTtlSecondsDefault,
  pfsMasterLeaseTtlSecondsMin,
  pfsReplicasDefault,
  pfsReplicasMax,
  pfsShardsDefault,
  pfsShardsMax,
  raftElectionTicksMin,
  raftSnapshotEntriesDefault,
  raftTickMsDefault,
  raftElectionTicksDefault,
} from "./limits.js";
import { logFormats, logLevels } from "./log.js";
import { type Result, err, ok } from "./result.js";

/** One member of `--initial-cluster`: a name and its peer URLs. */
export interface InitialMember {
  readonly name: string;
  readonly peerUrls: readonly string[];
}

/** Parses etcd's `name=url,name=url` (a name may repeat to give several URLs). */
function initialClusterField(): FieldSpec<readonly InitialMember[]> {
  return {
    description: "initial cluster configuration for bootstrapping: name=peer-url,…",
    placeholder: "NAME=URL,…",
    defaultValue: [], // derived from --name and --initial-advertise-peer-urls when empty
    parse: (raw) => {
      const members = new Map<string, string[]>();
      for (const part of raw.split(",").map((item) => item.trim()).filter((item) => item !== "")) {
        const equals = part.indexOf("=");
        if (equals <= 0) return err(`entry ${JSON.stringify(part)} is not NAME=URL`);
        const url = parseUrl(part.slice(equals + 1));
        if (!url.ok) return url;
        const name = part.slice(0, equals);
        const urls = members.get(name) ?? [];
        urls.push(url.value.origin);
        members.set(name, urls);
      }
      return ok([...members].map(([name, peerUrls]) => ({ name, peerUrls })));
    },
  };
}

/**
 * Seconds between the periodic garbage collections of a pfs node's shards (a deletion seen on
 * the metadata also starts one soon after): hourly, because a run reads every manifest and
 * staging log of the node's shards.
 */
export const pfsGcIntervalSecondsDefault: number = 3_600;

/** etcd's upper bound on --election-timeout (ms). */
const electionTimeoutMsMax = 50_000;

/** The schema of pfsd. Keys are camelCase; flags are their kebab-case form. */
export const pfsdSchema = {
  // ---- etcd's flags ----
  name: stringField("human-readable name for this member", "default", { nonEmpty: true, placeholder: "NAME" }),
  dataDir: stringField("path to the data directory (default: <name>.etcd)", "", { placeholder: "DIR" }),
  listenClientUrls: urlListField("URLs to listen on for client traffic", ["http://localhost:2379"]),
  advertiseClientUrls: urlListField("client URLs to advertise to the cluster", ["http://localhost:2379"]),
  listenPeerUrls: urlListField("URLs to listen on for peer traffic", ["http://localhost:2380"]),
  initialAdvertisePeerUrls: urlListField("peer URLs to advertise to the cluster", ["http://localhost:2380"]),
  initialCluster: initialClusterField(),
  initialClusterState: enumField("initial cluster state", "new", ["new", "existing"] as const),
  initialClusterToken: stringField("initial cluster token for bootstrapping", "etcd-cluster", { nonEmpty: true }),
  listenMetricsUrls: urlListField("URLs to serve /metrics, /livez and /readyz on", [], { allowEmpty: true }),
  heartbeatInterval: integerField("time (ms) of a heartbeat interval", raftTickMsDefault, 1, 10_000, "MS"),
  electionTimeout: integerField(
    "time (ms) for an election to time out", raftTickMsDefault * raftElectionTicksDefault, 1, electionTimeoutMsMax, "MS",
  ),
  snapshotCount: integerField("committed entries that trigger a snapshot", raftSnapshotEntriesDefault, 1, 10_000_000),
  maxRequestBytes: integerField("largest client request, in bytes", etcdRequestBytesMax, 1, 64 * 1024 * 1024, "BYTES"),
  quotaBackendBytes: integerField("store size that raises the NOSPACE alarm", etcdQuotaBytesDefault, 0, 2 ** 40, "BYTES"),
  certFile: optionalStringField("client server TLS certificate file", "FILE"),
  keyFile: optionalStringField("client server TLS key file", "FILE"),
  clientCertAuth: booleanField("require client certificates signed by --trusted-ca-file", false),
  trustedCaFile: optionalStringField("client server TLS trusted CA file", "FILE"),
  peerCertFile: optionalStringField("peer server TLS certificate file", "FILE"),
  peerKeyFile: optionalStringField("peer server TLS key file", "FILE"),
  peerClientCertAuth: booleanField("require peer certificates signed by --peer-trusted-ca-file", false),
  peerTrustedCaFile: optionalStringField("peer server TLS trusted CA file", "FILE"),
  // ---- pfs's flags ----
  pfsAddress: optionalHostPortField("serve the pfs API on HOST:PORT (off when absent)"),
  advertisePfsAddress: optionalHostPortField(
    "pfs API address published to the other nodes (default: --pfs-address; 127.0.0.1 for 0.0.0.0)",
  ),
  shards: integerField("shards of the file system, fixed at cluster creation", pfsShardsDefault, 1, pfsShardsMax),
  replicas: integerField("replicas of each shard (R)", pfsReplicasDefault, 1, pfsReplicasMax),
  writeQuorum: integerField("acknowledgements a commit waits for (W; 0 = majority of R)", 0, 0, pfsReplicasMax),
  etcdEndpoints: urlListField("use this external etcd cluster instead of the embedded one", [], { allowEmpty: true }),
  join: urlListField(
    "join the cluster of these client URLs as a Raft learner (ignored once --data-dir holds a member)",
    [], { allowEmpty: true },
  ),
  masterLeaseTtl: integerField(
    "TTL (s) of a shard master's lease", pfsMasterLeaseTtlSecondsDefault, pfsMasterLeaseTtlSecondsMin, 60, "SECONDS",
  ),
  deadTime: integerField("seconds offline before a node is faulty", pfsDeadTimeSecondsDefault, 1, 86_400, "SECONDS"),
  pfsGcInterval: integerField(
    "seconds between garbage collections of a node's shards (0 = off)", pfsGcIntervalSecondsDefault, 0, 604_800, "SECONDS",
  ),
  logLevel: enumField("log level", "info", logLevels),
  logFormat: enumField("log format (auto: text on a terminal, else JSON)", "auto", logFormats),
} as const;

/** The frozen configuration of pfsd. */
export type PfsdConfig = ConfigOf<typeof pfsdSchema>;

/** The pfs-specific keys; everything else is one of etcd's flags. */
const pfsKeys: ReadonlySet<string> = new Set([
  "pfsAddress", "advertisePfsAddress", "shards", "replicas", "writeQuorum", "etcdEndpoints",
  "masterLeaseTtl", "deadTime", "pfsGcInterval", "join", "logLevel", "logFormat",
]);

/** Environment prefix of a key: `PFSD_` for pfs's flags, `ETCD_` for etcd's. */
export function pfsdEnvPrefix(key: string): string {
  return pfsKeys.has(key) ? "PFSD_" : "ETCD_";
}

function checkTiming(config: PfsdConfig): ConfigError | undefined {
  // etcd refuses an election timeout under 5 heartbeats; so do we.
  if (config.electionTimeout < raftElectionTicksMin * config.heartbeatInterval) {
    return new ConfigError(
      "--election-timeout",
      `${config.electionTimeout} ms must be at least ${raftElectionTicksMin} times ` +
        `--heartbeat-interval (${config.heartbeatInterval} ms)`,
    );
  }
  return undefined;
}

function checkTls(config: PfsdConfig): ConfigError | undefined {
  const pairs: readonly [string | undefined, string | undefined, string, string][] = [
    [config.certFile, config.keyFile, "--cert-file", "--key-file"],
    [config.peerCertFile, config.peerKeyFile, "--peer-cert-file", "--peer-key-file"],
  ];
  for (const [cert, key, certFlag, keyFlag] of pairs) {
    if ((cert === undefined) !== (key === undefined)) {
      return new ConfigError(cert === undefined ? certFlag : keyFlag, `${certFlag} and ${keyFlag} go together`);
    }
  }
  if (config.clientCertAuth && config.trustedCaFile === undefined) {
    return new ConfigError("--trusted-ca-file", "required by --client-cert-auth");
  }
  if (config.peerClientCertAuth && config.peerTrustedCaFile === undefined) {
    return new ConfigError("--peer-trusted-ca-file", "required by --peer-client-cert-auth");
  }
  return undefined;
}

function checkCluster(config: PfsdConfig): ConfigError | undefined {
  const self = config.initialCluster.find((member) => member.name === config.name);
  if (self === undefined) {
    return new ConfigError(
      "--initial-cluster",
      `couldn't find local name ${JSON.stringify(config.name)} in the initial cluster configuration`,
    );
  }
  const advertised = [...config.initialAdvertisePeerUrls].sort().join(",");
  if ([...self.peerUrls].sort().join(",") !== advertised) {
    return new ConfigError(
      "--initial-cluster",
      `${config.name}'s peer URLs ${self.peerUrls.join(",")} do not match ` +
        `--initial-advertise-peer-urls ${advertised}`,
    );
  }
  return undefined;
}

/**
 * `--join` builds --initial-cluster and --initial-cluster-state from the running cluster, so
 * it goes with neither of them (beyond the defaults naming this member alone), and it needs
 * the embedded member, so not --etcd-endpoints.
 */
function checkJoin(config: PfsdConfig): ConfigError | undefined {
  if (config.join.length === 0) return undefined;
  if (config.etcdEndpoints.length > 0) {
    return new ConfigError("--join", "joins the embedded member's cluster; --etcd-endpoints " +
      "turns the embedded member off");
  }
  const others = config.initialCluster.filter((member) => member.name !== config.name);
  if (others.length > 0 || config.initialClusterState === "existing") {
    return new ConfigError("--join", "builds --initial-cluster and --initial-cluster-state " +
      "from the running cluster; give neither");
  }
  return undefined;
}

function checkPfs(config: PfsdConfig): ConfigError | undefined {
  const advertised = config.advertisePfsAddress;
  if (advertised !== undefined && (config.pfsAddress === undefined || advertised.port === 0)) {
    return new ConfigError("--advertise-pfs-address", config.pfsAddress === undefined
      ? "needs --pfs-address" : "needs a port other nodes can dial, not 0");
  }
  if (config.writeQuorum > config.replicas) {
    return new ConfigError("--write-quorum", `${config.writeQuorum} is above --replicas ${config.replicas}`);
  }
  return undefined;
}

/** Fills etcd's derived defaults and checks the cross-field rules. */
function completePfsdConfig(config: PfsdConfig): Result<PfsdConfig, ConfigError> {
  const initialCluster = config.initialCluster.length > 0
    ? config.initialCluster
    : [{ name: config.name, peerUrls: config.initialAdvertisePeerUrls }];
  const completed: PfsdConfig = {
    ...config,
    dataDir: config.dataDir === "" ? `${config.name}.etcd` : config.dataDir,
    initialCluster,
  };
  const problem = checkTiming(completed) ?? checkTls(completed) ?? checkCluster(completed) ??
    checkJoin(completed) ?? checkPfs(completed);
  return problem === undefined ? ok(completed) : err(problem);
}

/** Resolves pfsd's configuration from flags and environment. */
export function resolvePfsdConfig(sources: ConfigSources): Result<PfsdConfig, ConfigError> {
  return resolveConfig(pfsdSchema, sources, pfsdEnvPrefix, completePfsdConfig);
}

/** The effective write quorum: W, or a majority of R when W is 0. */
export function effectiveWriteQuorum(config: Pick<PfsdConfig, "writeQuorum" | "replicas">): number {
  return config.writeQuorum === 0 ? Math.floor(config.replicas / 2) + 1 : config.writeQuorum;
}

/** The pfs API address, if pfsd serves pfs. */
export type PfsAddress = HostPort | undefined;
