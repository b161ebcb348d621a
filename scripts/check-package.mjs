// `npm run package:check`: packs the package as it would be published and checks the tarball with
// @arethetypeswrong/cli (types resolve under node10, node16 from CommonJS and ESM, bundlers) and
// publint (package.json and files as Node reads them), and that every link of the packed guides to
// the API reference (`api/...html`) is a page the tarball holds. Run by `npm test` through
// test/package.test.ts.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
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
  const packedFiles = new Set(packed[0].files.map((file) => file.path))
  const guides = ['README.md', ...readdirSync(path.join(root, 'docs')).filter((file) => file.endsWith('.md')).map((file) => `docs/${file}`)]
  const links = guides.flatMap((guide) =>
    Array.from(readFileSync(path.join(root, guide), 'utf8').matchAll(/\]\((?:docs\/)?(api\/[^)#]+)/g), (match) => ({ guide, page: `docs/${match[1]}` })),
  )
  const broken = links.filter(({ page }) => !packedFiles.has(page)).map(({ guide, page }) => `${guide} links ${page}, which the package does not hold`)
  console.log(`${links.length} links to the API reference, ${links.length - broken.length} of them to pages in the package`)
  if (links.length === 0 || broken.length > 0) {
    console.error(broken.length > 0 ? broken.join('\n') : 'no link to the API reference found in the guides')
    process.exitCode = 1
  }
} finally {
  rmSync(folder, { recursive: true, force: true })
}
