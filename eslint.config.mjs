// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'out/', 'dist/', '.tools/', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      // Everything but the extension layer must run headless (CLI, tests, CI).
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'vscode', message: 'Only src/extension/ may import vscode.' }] },
      ],
    },
  },
  {
    // test/vscode/in-host/ runs inside the extension host; the rest of test/vscode/ drives it from outside.
    files: ['src/extension/**/*.ts', 'test/vscode/in-host/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
);
