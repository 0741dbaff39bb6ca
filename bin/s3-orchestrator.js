#!/usr/bin/env node
// The CLI is TypeScript run by Node 22's type stripping; `npm install` provides Node 22 in node_modules/.bin,
// which npx and npm scripts put first on PATH.
const [major] = process.versions.node.split('.').map(Number);
if (major < 22) {
  console.error(`s3-orchestrator needs Node 22 or later (this is ${process.version}); run it through npx or npm, which use the project's Node 22`);
  process.exit(1);
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
