// `npm run package:check`: packs the package as it would be published and checks the tarball with
// @arethetypeswrong/cli (types resolve under node10, node16 from CommonJS and ESM, bundlers) and
// publint (package.json and files as Node reads them). Run by `npm test` through test/package.test.ts.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const bin = (name) => path.join(root, 'node_modules', '.bin', name)

const folder = mkdtempSync(path.join(tmpdir(), 'dapr-state-cache-pack-'))
try {
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', folder], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))
  const tarball = path.join(folder, packed[0].filename)
  execFileSync(bin('attw'), [tarball, '--format', 'ascii'], { stdio: 'inherit' })
  execFileSync(bin('publint'), ['run', tarball, '--strict', '--level', 'suggestion'], { stdio: 'inherit' })
} finally {
  rmSync(folder, { recursive: true, force: true })
}
