// Builds src/ once per test run into .test-build/cjs (CommonJS, no declarations), for the replica
// processes the multi-process tests start: they run the library as a user's process would, not
// through Jest's transform. Called from the global setup of both Jest configs.
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..', '..')
const outDir = path.join(root, '.test-build', 'cjs')

module.exports = function buildForReplicas() {
  const tsc = require.resolve('typescript/bin/tsc', { paths: [root] })
  fs.rmSync(outDir, { recursive: true, force: true })
  execFileSync(
    process.execPath,
    [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', outDir, '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--declaration', 'false', '--declarationMap', 'false', '--sourceMap', 'false'],
    { stdio: 'inherit' },
  )
  fs.writeFileSync(path.join(outDir, 'package.json'), '{ "type": "commonjs" }\n')
  return outDir
}
