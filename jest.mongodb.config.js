/**
 * The real-runtime suites on `state.mongodb` (`npm run test:mongodb`): real daprd on FerretDB over
 * PostgreSQL with DocumentDB. Kept out of `npm run test:dapr` because CI cannot install DocumentDB;
 * run it where it is installed (docs/dapr-store.md, "MongoDB").
 * @type {import('jest').Config}
 */
const dapr = require('./jest.dapr.config.js')

module.exports = {
  ...dapr,
  testPathIgnorePatterns: ['/node_modules/'],
  testMatch: ['<rootDir>/test/dapr/mongodb.test.ts'],
}
