// Writes the JSON Schemas that VS Code uses to help edit Airlock configs and policies. The TypeScript
// objects are the single source: runtime validation uses the very same ones.
import { mkdirSync, writeFileSync } from 'node:fs';
import { configSchema } from '../src/config/config';
import { policySchema } from '../src/core/policy/document';

mkdirSync('dist/schemas', { recursive: true });
writeFileSync('dist/schemas/config.schema.json', JSON.stringify(configSchema, null, 2) + '\n');
writeFileSync('dist/schemas/policy.schema.json', JSON.stringify(policySchema, null, 2) + '\n');
