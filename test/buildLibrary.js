// Builds src/ with the project's tsc into `outDir` (no declarations, no source maps) and marks the
// folder with its module type, so that Node runs it as the published build would be run. Used by the
// global setups: the replica processes run the CommonJS build, the guides' snippets the ES module one.
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')

module.exports = function buildLibrary({ outDir, module, moduleResolution, type }) {
  const tsc = require.resolve('typescript/bin/tsc', { paths: [root] })
  fs.rmSync(outDir, { recursive: true, force: true })
  execFileSync(
    process.execPath,
    [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', outDir, '--module', module, '--moduleResolution', moduleResolution, '--declaration', 'false', '--declarationMap', 'false', '--sourceMap', 'false'],
    { stdio: 'inherit' },
  )
  fs.writeFileSync(path.join(outDir, 'package.json'), `{ "type": "${type}" }\n`)
  return outDir
}
