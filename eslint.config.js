import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Folders depend in one direction (docs/architecture.md): protocol (s3, admin, cli) -> domain (objects, jobs) ->
 * the services contract -> infrastructure (store, backends, crypto, config, observe) -> util; runtime/ is the
 * composition root and nothing imports it. Each entry forbids the folders a folder may not import. The files in
 * `pending` still break the rule (issue 13 removes them one by one); no new file may join them.
 */
const LAYERS = {
  domain: { folders: ['objects', 'jobs'], forbidden: ['s3', 'admin', 'cli', 'runtime'] },
  services: { folders: ['services'], forbidden: ['s3', 'admin', 'cli', 'runtime', 'objects', 'jobs'] },
  infrastructure: {
    folders: ['store', 'backends', 'crypto', 'config', 'observe'],
    forbidden: ['s3', 'admin', 'cli', 'runtime', 'objects', 'jobs', 'services'],
  },
  util: { folders: ['util'], forbidden: ['s3', 'admin', 'cli', 'runtime', 'objects', 'jobs', 'services', 'store', 'backends', 'crypto', 'config', 'observe'] },
  protocol: { folders: ['s3', 'admin', 'cli'], forbidden: ['runtime'] },
};
const pending = [
  'src/admin/api.ts',
  'src/admin/config-routes.ts',
  'src/backends/backend-health.ts',
  'src/backends/breaker-control.ts',
  'src/backends/drain-control.ts',
  'src/backends/remove-backend.ts',
  'src/backends/usage-control.ts',
  'src/observe/fleet-metrics.ts',
];
const direction = Object.values(LAYERS).map(({ folders, forbidden }) => ({
  files: folders.map((f) => `src/${f}/**/*.ts`),
  ignores: pending,
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
  { ignores: ['node_modules/', '.data/', '.wrangler/', 'dist/', 'coverage/', 'migrations/'] },
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
);
