// @ts-check
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Node built-ins, bare and `node:`-prefixed: forbidden where code must stay deterministic. */
const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`]);

const deterministicZone = {
  'no-restricted-imports': [
    'error',
    {
      paths: [
        ...nodeBuiltins.map((name) => ({ name, message: 'src/dsl and src/workflows run inside the Temporal workflow sandbox: no Node APIs.' })),
        ...['@temporalio/worker', '@temporalio/client', '@temporalio/activity', '@temporalio/testing'].map((name) => ({
          name,
          message: 'Workflow code may import only @temporalio/workflow (and src/dsl).',
        })),
      ],
      patterns: [
        { group: ['../activities/*', '../client/*', '../server/*', '../worker/*', '../execute.ts', '../index.ts'], message: 'dsl and workflows must not import Node-side modules.' },
      ],
    },
  ],
  'no-restricted-globals': [
    'error',
    ...['process', 'Buffer', 'require', 'setImmediate', '__dirname', '__filename'].map((name) => ({
      name,
      message: 'Not available (or not deterministic) in the Temporal workflow sandbox.',
    })),
  ],
};

export default tseslint.config(
  { ignores: ['node_modules/', '.opgraph/', 'test-results/', 'bench/dagster/.venv/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js', 'bin/*.js'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-empty-function': 'off',
    },
  },
  { files: ['src/dsl/**/*.ts', 'src/workflows/**/*.ts'], rules: deterministicZone },
  {
    // Workflow modules are evaluated once per workflow execution: keep zod (and the schema modules)
    // out of the bundle; types are fine. See src/workflows/guards.ts.
    files: ['src/workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        ...['zod', '../dsl/protocol.ts', '../dsl/plan.ts', '../dsl/runConfig.ts', '../dsl/index.ts'].map((name) => ({
          name,
          allowTypeImports: true,
          message: 'Value imports of zod schemas cost ~20 ms per workflow execution; import types only (use ../dsl/constants.ts, ../dsl/keys.ts, ./guards.ts).',
        })),
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-unsafe-member-access': 'off', '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
);
