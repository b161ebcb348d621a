/**
 * The real-runtime suite (`npm run test:dapr`): real daprd (built by `npm run dapr:build`), real
 * Redis (Debian's redis-server) and Python as oracles. Everything that needs more than Node.
 * @type {import('jest').Config}
 */
const base = require('./jest.config.js')

module.exports = {
  ...base,
  roots: ['<rootDir>/test/dapr'],
  // MongoDB's suite needs DocumentDB, which CI cannot install: `npm run test:mongodb` runs it.
  testPathIgnorePatterns: ['/node_modules/', '/test/dapr/mongodb\\.test\\.ts$'],
  globalSetup: '<rootDir>/test/dapr/globalSetup.js',
  // One file at a time: each starts its own daprd processes and servers, and several (the example
  // service under load, six replicas) take both cores; side by side, timing-sensitive scenarios of
  // another file failed now and then. About six minutes in all.
  maxWorkers: 1,
  testTimeout: 60_000,
}
