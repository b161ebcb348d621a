/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // The real-runtime suite (daprd, Redis, Python) runs with `npm run test:dapr`, not here.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/dapr/'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: false }],
  },
  // Sources import siblings with the `.js` extension Node's ES module loader needs; map it back for Jest.
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  globalSetup: '<rootDir>/test/globalSetup.js',
}
