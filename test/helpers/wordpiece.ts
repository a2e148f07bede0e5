/**
 * A small BERT WordPiece tokenizer.json (+ tokenizer_config.json) for test folders: [PAD]=0, [UNK]=1, [CLS]=2,
 * [SEP]=3, [MASK]=4, then whole words, then single letters and their ## continuations, so every lower-case word
 * tokenizes. transformers.js loads it offline like any BERT tokenizer.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const WORDS = [
  'the',
  'movie',
  'was',
  'good',
  'bad',
  'great',
  'terrible',
  'plot',
  'acting',
  'fine',
  'not',
  'very',
  'and',
  'but',
  ',',
  '.',
  '!',
];
const LETTERS = 'abcdefghijklmnopqrstuvwxyz'.split('');

export function wordpieceVocab(): string[] {
  return ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...WORDS, ...LETTERS, ...LETTERS.map((l) => `##${l}`)];
}

export async function writeWordpieceTokenizer(dir: string): Promise<string[]> {
  const vocab = wordpieceVocab();
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const tok = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((t, i) => special(i, t)),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
    },
  };
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tok));
  await writeFile(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({
      tokenizer_class: 'BertTokenizer',
      do_lower_case: true,
      pad_token: '[PAD]',
      unk_token: '[UNK]',
      cls_token: '[CLS]',
      sep_token: '[SEP]',
      mask_token: '[MASK]',
      model_max_length: 64,
    }),
  );
  return vocab;
}
