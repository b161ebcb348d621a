/**
 * The example service (examples/service) for the tests: its TypeScript transpiled into
 * .test-build/service, a folder of its own whose `dapr-state-cache` dependency is the library built
 * for the tests (.test-build/cjs), then run as a user runs it, `node run.js`, in a child process
 * bounded in time. The report it writes is what the tests check.
 */
import { execFile } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import * as ts from 'typescript'
import type { Report } from '../examples/service/run.js'

const root = path.join(__dirname, '..')
const example = path.join(root, 'examples', 'service')

/**
 * Transpiles the example into a folder of its own under .test-build (no type check: `npm run
 * typecheck` does that): the path of its `app` folder.
 */
export const buildServiceExample = (): string => {
  fs.mkdirSync(path.join(root, '.test-build'), { recursive: true })
  const out = fs.mkdtempSync(path.join(root, '.test-build', 'service-'))
  const app = path.join(out, 'app')
  fs.mkdirSync(app, { recursive: true })
  for (const file of fs.readdirSync(example).filter((name) => name.endsWith('.ts'))) {
    const source = fs.readFileSync(path.join(example, file), 'utf8')
    const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true }, fileName: file })
    fs.writeFileSync(path.join(app, file.replace(/\.ts$/, '.js')), outputText)
  }
  // Its own package scope, and the library as its dependency.
  fs.writeFileSync(path.join(out, 'package.json'), '{ "private": true, "type": "commonjs" }\n')
  const lib = path.join(out, 'node_modules', 'dapr-state-cache')
  fs.mkdirSync(lib, { recursive: true })
  fs.symlinkSync(path.join(root, '.test-build', 'cjs'), path.join(lib, 'cjs'))
  fs.writeFileSync(path.join(lib, 'package.json'), JSON.stringify({ name: 'dapr-state-cache', exports: { '.': './cjs/index.js', './testing': './cjs/testing/index.js' } }))
  return app
}

/** Runs the example's `run.js` with `args`; resolves with its report and its output. */
export const runServiceExample = (app: string, args: ReadonlyArray<string>, timeoutMs: number): Promise<{ report: Report; output: string; code: number }> => {
  const out = path.dirname(app)
  const reportFile = path.join(out, 'report.json')
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [path.join(app, 'run.js'), ...args, `--report=${reportFile}`, `--components=${path.join(example, 'components')}`],
      // SIGTERM past the deadline: the run exits, and what it started (sidecars, Redis, apps) with it.
      { cwd: out, timeout: timeoutMs, killSignal: 'SIGTERM', maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`
        if (!fs.existsSync(reportFile)) {
          reject(new Error(`the example wrote no report (${error?.message ?? "it exited"}):\n${output.slice(-4000)}`))
          return
        }
        resolve({ report: JSON.parse(fs.readFileSync(reportFile, 'utf8')) as Report, output, code: typeof error?.code === 'number' ? error.code : 0 })
      },
    )
  })
}
