/** `npm run openapi`: prints the service's OpenAPI document (written to api-spec/openapi.json by the script). */
import { apiDocument } from './routes/index.js';

process.stdout.write(JSON.stringify(apiDocument(), null, 2) + '\n');
