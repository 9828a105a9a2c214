// Lint rules. Beyond the recommended sets, the deterministic layers (raft,
// raftstore, scheduler, txn) may not reach for clocks, timers or randomness:
// those come in through injected Clock/Rng interfaces (STYLE.md principle 1).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nondeterministic = ['setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask', 'performance'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'src/pb/**', '.tinykv/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always'],
      'no-console': 'error',
    },
  },
  {
    files: ['**/*.test.ts', 'bench/**/*.ts', 'scripts/**'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['src/raft/**/*.ts', 'src/raftstore/**/*.ts', 'src/scheduler/**/*.ts', 'src/txn/**/*.ts'],
    // src/scheduler/server is the scheduler process's shell (gRPC, LMDB, timers), as src/server is the store's.
    ignores: ['**/*.test.ts', 'src/scheduler/server/**'],
    rules: {
      'no-restricted-globals': ['error', ...nondeterministic.map((name) => ({ name, message: 'Inject a Clock instead.' }))],
      'no-restricted-syntax': [
        'error',
        { selector: "MemberExpression[object.name='Math'][property.name='random']", message: 'Inject an Rng instead.' },
        { selector: "MemberExpression[object.name='Date'][property.name='now']", message: 'Inject a Clock instead.' },
        { selector: "NewExpression[callee.name='Date']", message: 'Inject a Clock instead.' },
        { selector: "MemberExpression[object.name='process'][property.name='hrtime']", message: 'Inject a Clock instead.' },
      ],
    },
  },
  {
    files: ['scripts/**/*.mjs', 'bin/**/*.js', 'eslint.config.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
    rules: { 'no-console': 'off' },
  },
);
