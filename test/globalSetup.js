// Before `npm test`: build the library for the replica processes of test/replicas.test.ts.
const buildForReplicas = require('./replicas/build.js')

module.exports = async () => {
  buildForReplicas()
}
