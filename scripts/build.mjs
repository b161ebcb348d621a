// Builds dist/cjs (CommonJS) and dist/esm (ES modules) from src/ with tsc, and marks each
// folder with the module type Node must use for it, so both `require` and `import` work in Node
// itself, not only in bundlers.
import { execFileSync } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
const builds = [
  { dir: 'dist/cjs', type: 'commonjs', flags: ['--module', 'NodeNext', '--moduleResolution', 'NodeNext'] },
  { dir: 'dist/esm', type: 'module', flags: ['--module', 'ES2022', '--moduleResolution', 'Bundler'] },
]

rmSync('dist', { recursive: true, force: true })
for (const { dir, type, flags } of builds) {
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', dir, ...flags], { stdio: 'inherit' })
  mkdirSync(dir, { recursive: true })
  writeFileSync(`${dir}/package.json`, `${JSON.stringify({ type }, null, 2)}\n`)
}
