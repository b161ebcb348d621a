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
  // Each file starts its own daprd processes; two cores, so two files at a time.
  maxWorkers: 2,
  testTimeout: 60_000,
}
