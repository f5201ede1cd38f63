// ava's configuration for scripts/launch_test: the suites of test/launch/, which run against a
// cluster the script launched (the plain ava run of package.json leaves them out).
// PFS_LAUNCH_TEST_FILES (space-separated globs) replaces the files; the script's own failure
// test uses it to run a deliberately failing test file.
const files = process.env.PFS_LAUNCH_TEST_FILES?.split(" ").filter((glob) => glob !== "");

export default {
  typescript: { rewritePaths: { "test/": "dist/test/" }, compile: false },
  files: files !== undefined && files.length > 0 ? files : ["test/launch/**/*.test.ts"],
  // The suites share one cluster and a busy machine: ava's no-progress timeout is generous.
  timeout: "10m",
  workerThreads: false,
  environmentVariables: { PFS_TEST: "1" },
};
