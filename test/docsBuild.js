// Builds src/ once per test run into .test-build/esm (ES modules, no declarations), for the docs
// tests: each runnable snippet of the guides runs in Node as a user's ESM project would run it,
// importing the package's ES module build (the same module settings as scripts/build.mjs).
// Called from the global setup of `npm test`.
const path = require('node:path')
const buildLibrary = require('./buildLibrary.js')

module.exports = function buildForDocs() {
  return buildLibrary({ outDir: path.join(__dirname, '..', '.test-build', 'esm'), module: 'ES2022', moduleResolution: 'Bundler', type: 'module' })
}
