// Before `npm test`: build the library for the replica processes of test/replicas.test.ts, and its
// ES module build for the snippets of the guides (test/docs.test.ts).
const buildForReplicas = require('./replicas/build.js')
const buildForDocs = require('./docsBuild.js')

module.exports = async () => {
  buildForReplicas()
  buildForDocs()
}
