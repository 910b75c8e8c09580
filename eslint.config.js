// @ts-check
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';

/** Node built-ins, bare and `node:`-prefixed: forbidden where code must stay deterministic. */
const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`]);

const nodeSideModules = [
  '../activities/*',
  '../client/*',
  '../server/*',
  '../worker/*',
  '../store/*',
  '../cli/*',
  '../execute.ts',
  '../index.ts',
];
const nodeSdk = ['@temporalio/worker', '@temporalio/client', '@temporalio/activity', '@temporalio/testing'];

/**
 * Code that runs inside the Temporal workflow sandbox: no Node APIs, no Node-side modules; `extraPatterns` narrow it further.
 * @param {{ zone: string, temporal: 'none' | 'workflow', extraPatterns?: { group: string[], message: string }[] }} options
 */
function deterministicZone({ zone, temporal, extraPatterns = [] }) {
  return {
    'no-restricted-imports': [
      'error',
      {
        paths: [
          ...nodeBuiltins.map((name) => ({ name, message: `${zone} runs inside the Temporal workflow sandbox: no Node APIs.` })),
          ...(temporal === 'none'
            ? []
            : nodeSdk.map((name) => ({ name, message: 'Workflow code may import only @temporalio/workflow (and src/engine, src/dsl).' }))),
        ],
        patterns: [
          { group: nodeSideModules, message: 'dsl, engine and workflows must not import Node-side modules.' },
          ...(temporal === 'none'
            ? [
                {
                  group: ['@temporalio/*'],
                  message: `${zone} is host-neutral: no @temporalio imports (the Temporal host lives in src/workflows).`,
                },
              ]
            : []),
          ...extraPatterns,
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
}

/** Workflow modules are evaluated once per workflow execution: keep zod (and the schema modules) out of the bundle; types are fine. */
const noZodValues = {
  '@typescript-eslint/no-restricted-imports': [
    'error',
    ...['zod', '../dsl/protocol.ts', '../dsl/plan.ts', '../dsl/runConfig.ts', '../dsl/index.ts'].map((name) => ({
      name,
      allowTypeImports: true,
      message:
        'Value imports of zod schemas cost ~20 ms per workflow execution; import types only (use ../dsl/constants.ts, ../dsl/keys.ts, ../dsl/limits.ts, ./guards.ts).',
    })),
  ],
};

/** The zod-free src/dsl modules that workflow code imports as values: they must stay zod-free themselves. */
const zodFreeDsl = ['src/dsl/constants.ts', 'src/dsl/keys.ts', 'src/dsl/limits.ts', 'src/dsl/json.ts', 'src/dsl/wire.ts'];
const noZodValuesInDsl = {
  '@typescript-eslint/no-restricted-imports': [
    'error',
    ...['zod', './protocol.ts', './plan.ts', './runConfig.ts', './index.ts'].map((name) => ({
      name,
      allowTypeImports: true,
      message:
        'Workflow code imports this module: value imports of zod schemas would put zod in every workflow execution; import types only.',
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
  { files: ['src/dsl/**/*.ts'], rules: deterministicZone({ zone: 'src/dsl', temporal: 'none' }) },
  { files: zodFreeDsl, rules: noZodValuesInDsl },
  {
    files: ['src/engine/**/*.ts'],
    rules: {
      ...deterministicZone({
        zone: 'src/engine',
        temporal: 'none',
        extraPatterns: [{ group: ['../workflows/*'], message: 'The engine must not import its hosts (src/workflows, src/activities).' }],
      }),
      ...noZodValues,
    },
  },
  { files: ['src/workflows/**/*.ts'], rules: { ...deterministicZone({ zone: 'src/workflows', temporal: 'workflow' }), ...noZodValues } },
  {
    // The Node host runs the engine; it never imports the Temporal host.
    files: ['src/activities/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['../workflows/*'], message: 'src/activities imports src/engine, never src/workflows.' }] },
      ],
    },
  },
  {
    // One-way imports (DESIGN §1): a cycle between modules is a design error, not a style choice.
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js'] })],
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
    },
    rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-unsafe-member-access': 'off', '@typescript-eslint/no-unsafe-assignment': 'off' },
  },
);
