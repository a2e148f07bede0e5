import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRepairOptions, REPAIR_RECIPES, resolveRecipe } from '../../../src/landscape/repair/repair.js';
import { isCode } from '../../helpers/errors.js';

test('repair recipe: convnet for an ONNX file, transformer for a Hugging Face folder (either graph); a value the caller sets wins', () => {
  const d = parseRepairOptions({});
  assert.equal(d.l2, undefined, 'the schema leaves the recipe options unset until the model is known');
  const pick = (o: ReturnType<typeof resolveRecipe>) => ({
    l2: o.l2,
    polishEpochs: o.polishEpochs,
    polishLr: o.polishLr,
    polishMixup: o.polishMixup,
    unlearn: o.unlearn,
  });
  assert.deepEqual(pick(resolveRecipe(d, 'onnx', 'float32')), { l2: 0.05, polishEpochs: 20, polishLr: 0.05, polishMixup: 0, unlearn: 0 });
  for (const route of ['config.json', 'onnx-export'] as const) {
    const o = resolveRecipe(d, route, 'float32');
    assert.equal(o.recipe, 'transformer');
    assert.deepEqual(pick(o), { l2: 0.01, polishEpochs: 40, polishLr: 0.005, polishMixup: 0.5, unlearn: 0.2 });
  }
  assert.deepEqual(pick(resolveRecipe(d, 'config.json', 'float32')), { ...REPAIR_RECIPES.transformer });
  const own = resolveRecipe(parseRepairOptions({ l2: 0.02, polishLr: 0.001 }), 'config.json', 'float32');
  assert.deepEqual(pick(own), { l2: 0.02, polishEpochs: 40, polishLr: 0.001, polishMixup: 0.5, unlearn: 0.2 });
  const forced = resolveRecipe(parseRepairOptions({ recipe: 'convnet' }), 'config.json', 'float32');
  assert.equal(forced.recipe, 'convnet');
  assert.equal(forced.l2, 0.05);
});

test('repair recipe: token inputs never mix nor unlearn (an explicit mixup or unlearning on them is refused); bad recipe names are refused', () => {
  const o = resolveRecipe(parseRepairOptions({}), 'config.json', 'int64');
  assert.equal(o.polishMixup, 0);
  assert.equal(o.unlearn, 0, 'no trigger mask is stamped on token ids');
  assert.throws(() => resolveRecipe(parseRepairOptions({ unlearn: 0.2 }), 'config.json', 'int64'), isCode('invalid-input', /unlearn/));
  assert.throws(() => parseRepairOptions({ unlearn: -0.1 }), isCode('invalid-input', /unlearn/));
  assert.throws(
    () => resolveRecipe(parseRepairOptions({ polishMixup: 0.5 }), 'config.json', 'int64'),
    isCode('invalid-input', /token ids/),
  );
  assert.throws(() => parseRepairOptions({ recipe: 'resnet' as 'auto' }), isCode('invalid-input', /recipe/));
  assert.throws(() => parseRepairOptions({ polishMixup: 2 }), isCode('invalid-input', /polishMixup/));
});
