/** POST /v1/attacks + GET /v1/attacks/{id}: one stored classifier's clean and adversarial (L∞ PGD/FGSM) numbers. */
import { attackRunSchema } from '../../landscape/robustness/attack-model.js';
import { parseOptions } from '../../util/options.js';
import { anyJson } from '../http/doc.js';
import { jobResource } from '../http/job-resource.js';
import { modelOnData } from '../http/stored.js';
import { AttackRequest, withOptions } from '../schemas.js';

export const attacks = jobResource({
  kind: 'attack',
  path: '/v1/attacks',
  noun: 'Attack',
  submit: {
    summary:
      "A model's clean and adversarial loss and accuracy under an L∞ PGD or FGSM attack, and the input Hessian's top eigenvalue (a job)",
    notFound: 'Unknown model or dataset',
    body: AttackRequest,
    bodyId: 'AttackRequest',
    bodyDoc: withOptions(AttackRequest, attackRunSchema, 'Attack options (src/landscape/robustness/options.ts)'),
    components: [['AttackOptions', attackRunSchema]],
  },
  submission: (ctx, body) =>
    modelOnData(ctx, body, parseOptions(attackRunSchema, body.options ?? {}, 'attack'), { labelled: true, what: 'an attack' }),
  result: {
    summary: 'The attack result',
    content: anyJson('clean, adversarial ({loss, accuracy}), inputHessian, samples, options (src/landscape/robustness/attack-model.ts)'),
  },
});
