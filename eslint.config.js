import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Folders depend in one direction (docs/architecture.md): protocol (s3, admin, cli) -> domain (backend-state,
 * jobs, objects) -> the services contract -> infrastructure (store, backends, crypto, config, observe, notify) -> util;
 * runtime/ is the composition root and nothing in src/ imports it. Each entry forbids the folders a folder may
 * not import. Inside the domain, backend-state may use jobs and objects, jobs may use objects, never back.
 */
const LAYERS = {
  backendState: { folders: ['backend-state'], forbidden: ['s3', 'admin', 'cli', 'runtime'] },
  jobs: { folders: ['jobs'], forbidden: ['s3', 'admin', 'cli', 'runtime', 'backend-state'] },
  objects: { folders: ['objects'], forbidden: ['s3', 'admin', 'cli', 'runtime', 'backend-state', 'jobs'] },
  services: { folders: ['services'], forbidden: ['s3', 'admin', 'cli', 'runtime', 'backend-state', 'objects', 'jobs'] },
  infrastructure: {
    folders: ['store', 'backends', 'crypto', 'config', 'observe', 'notify'],
    forbidden: ['s3', 'admin', 'cli', 'runtime', 'backend-state', 'objects', 'jobs', 'services'],
  },
  util: {
    folders: ['util'],
    forbidden: ['s3', 'admin', 'cli', 'runtime', 'backend-state', 'objects', 'jobs', 'services', 'store', 'backends', 'crypto', 'config', 'observe', 'notify'],
  },
  protocol: { folders: ['s3', 'admin', 'cli', 'ui'], forbidden: ['runtime'] },
};
const direction = Object.values(LAYERS).map(({ folders, forbidden }) => ({
  files: folders.map((f) => `src/${f}/**/*.ts`),
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            regex: `^(\\.\\./)+(${forbidden.join('|')})/`,
            message: 'This import goes against the folder direction (see docs/architecture.md, "Folders").',
          },
        ],
      },
    ],
  },
}));

export default tseslint.config(
  { ignores: ['node_modules/', '.data/', '.wrangler/', 'dist/', 'coverage/', 'migrations/', 'workers/worker-configuration.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-control-regex': 'off',
    },
  },
  {
    files: ['scripts/**', 'test/**', 'bin/**', 'src/cli/**', '*.config.*'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly' } },
  },
  ...direction,
  {
    // The dashboard's browser code never parses markup: tenant names are text (src/ui/browser/dom.ts).
    files: ['src/ui/browser/**/*.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        ...['innerHTML', 'outerHTML', 'insertAdjacentHTML', 'write', 'writeln', 'createContextualFragment'].map((property) => ({
          property,
          message: 'The dashboard builds pages from elements and text nodes only (src/ui/browser/dom.ts).',
        })),
      ],
      'no-restricted-globals': ['error', { name: 'eval', message: 'No code from strings under a strict CSP.' }],
    },
  },
);
