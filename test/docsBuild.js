// Builds src/ once per test run into .test-build/esm (ES modules, no declarations), for the docs
// tests: each runnable snippet of the guides runs in Node as a user's ESM project would run it,
// importing the package's ES module build. Called from the global setup of `npm test`.
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const outDir = path.join(root, '.test-build', 'esm')

module.exports = function buildForDocs() {
  const tsc = require.resolve('typescript/bin/tsc', { paths: [root] })
  fs.rmSync(outDir, { recursive: true, force: true })
  // The same module settings as the published ESM build (scripts/build.mjs).
  execFileSync(
    process.execPath,
    [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', outDir, '--module', 'ES2022', '--moduleResolution', 'Bundler', '--declaration', 'false', '--declarationMap', 'false', '--sourceMap', 'false'],
    { stdio: 'inherit' },
  )
  fs.writeFileSync(path.join(outDir, 'package.json'), '{ "type": "module" }\n')
  return outDir
}
