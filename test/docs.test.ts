/**
 * Every TypeScript snippet in README.md and docs/ is compiled, and those fenced as `ts run` are run,
 * so no example can rot. Snippets import the package by name (`dapr-state-cache`,
 * `dapr-state-cache/testing`); here those names point at the sources.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import ts from 'typescript'

interface Snippet {
  readonly doc: string
  readonly line: number
  readonly code: string
  readonly run: boolean
}

const root = path.join(__dirname, '..')
const docs = ['README.md', ...readdirSync(path.join(root, 'docs')).filter((file) => file.endsWith('.md')).map((file) => `docs/${file}`)]

const snippets: ReadonlyArray<Snippet> = docs.flatMap((doc) => {
  const lines = readFileSync(path.join(root, doc), 'utf8').split('\n')
  const found: Array<Snippet> = []
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```ts( run)?\s*$/.exec(lines[i] ?? '')
    if (fence === null) continue
    const start = i + 1
    let end = start
    while (end < lines.length && lines[end] !== '```') end++
    found.push({ doc, line: start + 1, code: lines.slice(start, end).join('\n'), run: fence[1] !== undefined })
    i = end
  }
  return found
})

const label = (snippet: Snippet) => `${snippet.doc}:${snippet.line}`

const sources: Record<string, string> = {
  'dapr-state-cache': path.join(root, 'src', 'index.ts'),
  'dapr-state-cache/testing': path.join(root, 'src', 'testing', 'index.ts'),
}

describe('documentation snippets', () => {
  it('are there to check', () => {
    expect(snippets.length).toBeGreaterThan(10)
    expect(snippets.filter((snippet) => snippet.run).length).toBeGreaterThan(5)
  })

  it('all compile against the package, under the project strict settings', () => {
    // Inside node_modules: ignored by git, and packages resolve from there as from the project.
    const cache = path.join(root, 'node_modules', '.cache')
    mkdirSync(cache, { recursive: true })
    const dir = mkdtempSync(path.join(cache, 'doc-snippets-'))
    try {
      const files = snippets.map((snippet, index) => {
        const file = path.join(dir, `snippet${index}.ts`)
        writeFileSync(file, `${snippet.code}\nexport {}\n`)
        return file
      })
      const base = ts.readConfigFile(path.join(root, 'tsconfig.base.json'), (file) => ts.sys.readFile(file)).config as {
        compilerOptions: object
      }
      const { options } = ts.convertCompilerOptionsFromJson(
        {
          ...base.compilerOptions,
          module: 'ESNext',
          moduleResolution: 'Bundler',
          noEmit: true,
          noUnusedLocals: false,
          noUnusedParameters: false,
          baseUrl: root,
          typeRoots: [path.join(root, 'node_modules', '@types')],
          paths: Object.fromEntries(Object.entries(sources).map(([name, file]) => [name, [file]])),
        },
        root,
      )
      const program = ts.createProgram(files, options)
      const diagnostics = ts.getPreEmitDiagnostics(program).filter((diagnostic) => diagnostic.file === undefined || files.includes(diagnostic.file.fileName))
      const messages = diagnostics.map((diagnostic) => {
        const index = diagnostic.file === undefined ? -1 : files.indexOf(diagnostic.file.fileName)
        const snippet = snippets[index]
        const where =
          snippet === undefined || diagnostic.file === undefined || diagnostic.start === undefined
            ? '(global)'
            : `${snippet.doc}:${snippet.line + diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line}`
        return `${where}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`
      })
      expect(messages).toEqual([])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)

  const runnable = snippets.filter((snippet) => snippet.run)
  it.each(runnable.map((snippet) => [label(snippet), snippet] as const))('%s runs', async (_label, snippet) => {
    const { outputText } = ts.transpileModule(snippet.code, {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    })
    const load = (name: string): unknown => {
      const source = sources[name]
      // A snippet's imports are compiled to require calls; Jest's require also compiles the sources.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return source === undefined ? require(name) : require(source)
    }
    const exports = {}
    // The snippet runs as the body of an async function, so that its top-level await works.
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    const body = new Function('require', 'exports', 'console', `return (async () => {\n${outputText}\n})()`) as (
      require: (name: string) => unknown,
      exports: object,
      console: Pick<Console, 'log' | 'warn' | 'error'>,
    ) => Promise<void>
    const printed: Array<string> = []
    const quiet = { log: (...args: ReadonlyArray<unknown>) => printed.push(args.map(String).join(' ')), warn: () => undefined, error: () => undefined }
    await body(load, exports, quiet)
  })
})

describe('links to the API reference', () => {
  it('every api/... link in the guides is a page TypeDoc generates', () => {
    const out = mkdtempSync(path.join(tmpdir(), 'api-reference-'))
    try {
      execFileSync(process.execPath, [path.join(root, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--out', out, '--logLevel', 'Error'], { cwd: root, stdio: 'ignore' })
      const links = docs.flatMap((doc) =>
        Array.from(readFileSync(path.join(root, doc), 'utf8').matchAll(/\]\((?:docs\/)?api\/([^)#]+)\)/g), (match) => ({ doc, page: match[1] as string })),
      )
      expect(links.length).toBeGreaterThan(20)
      expect(links.filter((link) => !existsSync(path.join(out, link.page)))).toEqual([])
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  }, 60_000)
})
