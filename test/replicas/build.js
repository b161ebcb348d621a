// Builds src/ once per test run into .test-build/cjs (CommonJS, no declarations), for the replica
// processes the multi-process tests start: they run the library as a user's process would, not
// through Jest's transform. Called from the global setup of both Jest configs.
const path = require('node:path')
const buildLibrary = require('../buildLibrary.js')

module.exports = function buildForReplicas() {
  return buildLibrary({ outDir: path.join(__dirname, '..', '..', '.test-build', 'cjs'), module: 'NodeNext', moduleResolution: 'NodeNext', type: 'commonjs' })
}
