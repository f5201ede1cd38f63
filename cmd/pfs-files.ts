/**
 * The `pfs` commands on files, in pachctl's grammar: `pfs put file R@B:/p -f SRC` (`-f -`
 * stdin, `-r` a directory's files under /p, `--untar` a tar stream, `--append`), `pfs get file
 * R@B:/p [-o OUT] [-r]` (OUT is replaced atomically; a directory needs -r and -o), and `pfs
 * list|glob|inspect|diff|delete|copy file`.
 *
 * A directory is put as one tar stream, so it lands in one commit, all or nothing. Puts and
 * gets over `progressBytesMin` show a progress bar when stderr is a terminal.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { Writable } from "node:stream";
import type { Command } from "commander";
import { PfsError } from "../pkg/common/index.js";
// eslint-disable-next-line pfs/boundaries -- the CLI loads the client alone, not all of pkg/pfs
import {
  type FileRefMessage, type PfsClient, type PutFileHeaderMessage, ProgressBar, formatDiff,
  formatFile, formatFiles, parseByteCount, parseFileArg, parseGlobArg, tarOfFiles, totalBytes,
  walkDirectory, writeDirectoryAtomically, writeFileAtomically,
} from "../pkg/pfs/client/index.js";
import { type ApiOptions, noun, print, verb, withClient } from "./pfs-context.js";

interface PutOptions extends ApiOptions {
  readonly file?: string;
  readonly recursive?: boolean;
  readonly untar?: boolean;
  readonly append?: boolean;
}

/** What a put sends: its bytes, their format and their size when known in advance. */
interface PutSource {
  readonly bytes: AsyncIterable<Uint8Array | string>;
  readonly format: PutFileHeaderMessage["format"];
  readonly sizeBytes: number | undefined;
}

async function putSource(options: PutOptions): Promise<PutSource> {
  const from = options.file;
  if (from === undefined) {
    throw new PfsError("INVALID_ARGUMENT", "put file needs -f <local file>, or -f - for stdin");
  }
  const format = options.untar === true ? "TAR" : "RAW";
  if (from === "-") return { bytes: process.stdin, format, sizeBytes: undefined };
  const stats = await stat(from).catch(() => undefined);
  if (stats === undefined) throw new PfsError("NOT_FOUND", `${from}: no such file or directory`);
  if (stats.isDirectory()) {
    if (options.recursive !== true) {
      throw new PfsError("INVALID_ARGUMENT", `${from} is a directory; put it with -r`);
    }
    if (options.untar === true) {
      throw new PfsError("INVALID_ARGUMENT", "--untar takes a tar stream, not a directory");
    }
    const files = await walkDirectory(from);
    return { bytes: tarOfFiles(files), format: "TAR", sizeBytes: totalBytes(files) };
  }
  return { bytes: createReadStream(from), format, sizeBytes: stats.size };
}

function addPut(program: Command): void {
  noun(verb(program, "put", "put data into a repo"), "file",
    "put a file, a directory (-r), stdin (-f -) or a tar stream (--untar) at a path", false)
    .argument("<repo@branch:/path>")
    .option("-f, --file <local>", "what to put: a local file or directory, or - for stdin")
    .option("-r, --recursive", "put the files of a local directory below the path")
    .option("--untar", "the input is a tar stream: put each entry below the path")
    .option("-a, --append", "append to the file instead of overwriting it")
    .action(async (raw: string, options: PutOptions) => {
      const file = parseFileArg(raw);
      if (options.append === true && options.untar === true) {
        throw new PfsError("INVALID_ARGUMENT", "--append and --untar cannot be combined");
      }
      const source = await putSource(options);
      const header: PutFileHeaderMessage = {
        commit: file.commit, path: file.path, append: options.append === true,
        format: source.format,
      };
      const bar = new ProgressBar(`put ${file.path}`, source.sizeBytes, process.stderr);
      await withClient(options, (client) =>
        client.putFile(header, source.bytes, (bytes) => { bar.add(bytes); }));
      bar.finish();
    });
}

interface GetOptions extends ApiOptions {
  readonly output?: string;
  readonly recursive?: boolean;
  readonly offset?: string;
  readonly length?: string;
}

async function getOne(client: PfsClient, file: FileRefMessage, options: GetOptions):
  Promise<void> {
  const isRoot = file.path === "/";
  const info = isRoot ? undefined : await client.inspectFile(file);
  const directory = isRoot || info?.type === "DIR";
  const bar = new ProgressBar(`get ${file.path}`,
    info === undefined ? undefined : Number(info.size_bytes), process.stderr);
  const onBytes = (bytes: number): void => { bar.add(bytes); };
  const output = options.output;
  if (directory) {
    if (options.recursive !== true || output === undefined || output === "-") {
      throw new PfsError("INVALID_ARGUMENT",
        `${file.path} is a directory; get it with -r -o <local directory>`);
    }
    await writeDirectoryAtomically(output, (sink) => client.getFile(file, sink, {}, onBytes));
  } else {
    const range = {
      offset: options.offset === undefined ? 0n : parseByteCount("--offset", options.offset),
      length: options.length === undefined ? 0n : parseByteCount("--length", options.length),
    };
    const fill = (sink: Writable): Promise<bigint> => client.getFile(file, sink, range, onBytes);
    if (output === undefined || output === "-") await fill(process.stdout);
    else await writeFileAtomically(output, fill);
  }
  bar.finish();
}

function addGet(program: Command): void {
  noun(verb(program, "get", "get data out of a repo"), "file",
    "write a file to stdout or -o OUT; a directory (-r) to the directory OUT", false)
    .argument("<repo@commit:/path>")
    .option("-o, --output <local>", "write here (replaced atomically) instead of stdout")
    .option("-r, --recursive", "get a directory, written as a local directory at -o")
    .option("--offset <bytes>", "start at this byte of the file")
    .option("--length <bytes>", "at most this many bytes (default: to the end)")
    .action(async (raw: string, options: GetOptions) => {
      const file = parseFileArg(raw);
      await withClient(options, (client) => getOne(client, file, options));
    });
}

function addReads(program: Command): void {
  noun(verb(program, "list", ""), "file", "list the entries directly below a directory", true)
    .argument("<repo@commit:/dir>")
    .action(async (raw: string, options: ApiOptions) => {
      const file = parseFileArg(raw);
      print(options, await withClient(options, (client) => client.listFile(file)), formatFiles);
    });
  noun(verb(program, "glob", "find files by pattern"), "file",
    "list the files matching a pattern (*, ?, [...], ** across directories)", true)
    .argument("<repo@commit:/pattern>")
    .action(async (raw: string, options: ApiOptions) => {
      const { commit, pattern } = parseGlobArg(raw);
      print(options, await withClient(options, (client) => client.globFile(commit, pattern)),
        formatFiles);
    });
  noun(verb(program, "inspect", ""), "file", "show a file's size, hash and commit", true)
    .argument("<repo@commit:/path>")
    .action(async (raw: string, options: ApiOptions) => {
      const file = parseFileArg(raw);
      print(options, await withClient(options, (client) => client.inspectFile(file)), formatFile);
    });
  noun(verb(program, "diff", "compare commits"), "file",
    "the files that differ below a path (default old: the same path in the parent)", true)
    .argument("<new-repo@commit:/path>").argument("[old-repo@commit:/path]")
    .option("--shallow", "only the entries directly below the path")
    .action(async (rawNew: string, rawOld: string | undefined,
      options: ApiOptions & { shallow?: boolean }) => {
      const newFile = parseFileArg(rawNew);
      const oldFile = rawOld === undefined ? null : parseFileArg(rawOld);
      print(options, await withClient(options, (client) =>
        client.diffFile(newFile, oldFile, options.shallow === true)), formatDiff);
    });
}

function addWrites(program: Command): void {
  noun(verb(program, "delete", ""), "file", "delete a file, or a directory with -r", false)
    .argument("<repo@branch:/path>").option("-r, --recursive", "delete a directory")
    .action(async (raw: string, options: ApiOptions & { recursive?: boolean }) => {
      const file = parseFileArg(raw);
      await withClient(options, (client) => client.deleteFile(file, options.recursive === true));
    });
  noun(verb(program, "copy", "copy data without re-uploading it"), "file",
    "copy a file or directory to another path, branch or repo (server-side)", false)
    .argument("<src-repo@commit:/path>").argument("<dst-repo@branch:/path>")
    .option("-a, --append", "append to the destination file instead of overwriting it")
    .action(async (rawSrc: string, rawDst: string, options: ApiOptions & { append?: boolean }) => {
      const src = parseFileArg(rawSrc);
      const dst = parseFileArg(rawDst);
      await withClient(options, (client) => client.copyFile(src, dst, options.append === true));
    });
}

/** Adds the file commands to `program` (after the metadata ones, which create the verbs). */
export function addFileCommands(program: Command): void {
  addPut(program);
  addGet(program);
  addReads(program);
  addWrites(program);
}
