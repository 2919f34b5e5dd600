import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

// The pure core (codecs, election machines, resource machine, status documents and their
// rendering, schedulers) must not touch time, randomness, I/O or processes: the shell hands
// those in. Enforced here per file; test/cli/layers.test.ts checks the whole import graph and
// that this list names the same folders (balancer/sharing/coordination: once they exist).
const coreFolders = [
  'src/protocol/**/*.ts',
  'src/election/**/*.ts',
  'src/resources/core/**/*.ts',
  'src/control/**/*.ts',
  'src/status/**/*.ts',
  'src/balancer/core/**/*.ts',
  'src/sharing/core/**/*.ts',
  'src/coordination/core/**/*.ts',
];
// The control socket's client talks over node:net: shell, not core.
const notCore = ['src/control/client.ts'];

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'node_modules/**', 'artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js', 'bin/carpool'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true, allowNullish: true }],
    },
  },
  {
    files: coreFolders,
    ignores: notCore,
    rules: {
      'no-restricted-globals': ['error',
        { name: 'Date', message: 'core is pure: take `now` as an argument' },
        { name: 'setTimeout', message: 'core is pure: return a deadline instead' },
        { name: 'setInterval', message: 'core is pure: return a deadline instead' },
        { name: 'setImmediate', message: 'core is pure' },
        { name: 'process', message: 'core is pure' },
        { name: 'performance', message: 'core is pure: take `now` as an argument' },
      ],
      'no-restricted-properties': ['error',
        { object: 'Math', property: 'random', message: 'core is pure: take random bytes as input' },
      ],
      'no-restricted-imports': ['error', { patterns: [
        { group: ['node:fs', 'node:fs/*', 'fs', 'node:child_process', 'child_process', 'node:net', 'node:dgram', 'node:os', 'node:timers', 'node:timers/*', 'node:process', 'node:worker_threads', '**/net/**', '**/daemon/**', '**/cli/**', '**/lab/**'],
          message: 'core is pure: no I/O, processes or shell modules' },
      ] }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
);
