// ESLint 9 flat config. TypeScript (src/, test/, bench/, scripts/) gets typescript-eslint's type-aware
// recommended rules through tsconfig.json; bin/ and deploy/ are plain CommonJS scripts run by node.
// Layout is prettier's job (.prettierrc.json); no rule here overlaps with it.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.cutover/', 'coverage/', 'test/fixtures/'] },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Every promise is awaited, returned or discarded on purpose with `void` (workflow handlers use
      // `void promise.then(...)` and `void this.approve(...)`). node:test's describe/it/test return
      // promises that the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          ignoreVoid: true,
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // A switch over a union names every member; a `default` does not stand in for missing cases, it
      // only holds the `const _: never = x` check.
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { allowDefaultCaseForExhaustiveSwitch: true, considerDefaultExhaustiveForUnions: false },
      ],
      // Off: tsc's noUnusedLocals/noUnusedParameters report the same things (and allow `_` parameters).
      '@typescript-eslint/no-unused-vars': 'off',
      // Off: the build is CommonJS and the CLI lazy-loads verbs with a typed require() on purpose
      // (src/client/cli.ts); an untyped require() is still caught by the no-unsafe-* rules.
      '@typescript-eslint/no-require-imports': 'off',
      // Off: async functions without await implement Promise-returning interfaces (provisioners) and
      // fastify handlers; the promise rules above catch the real mistakes.
      '@typescript-eslint/require-await': 'off',
      // AbortSignal.reason is typed any; rejecting with it is how abortable helpers must behave.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Off in tests: they read parsed JSON/YAML bodies as any and assert on them; the assertion is the check.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['bin/**/*.js', 'deploy/**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
    rules: {
      '@typescript-eslint/no-require-imports': 'off',
      // A module-scoped `const crypto = require('node:crypto')` shadows the global harmlessly in CommonJS.
      'no-redeclare': ['error', { builtinGlobals: false }],
    },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module', globals: globals.node },
  },
);
