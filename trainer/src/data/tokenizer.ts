// BERT's tokenizer on @huggingface/tokenizers (the pure-JS tokenizer inside transformers.js), so
// normalisation, pre-tokenisation and WordPiece are the library's, not ours. A checkpoint's
// `tokenizer.json` is used as it is; a checkpoint with only `vocab.txt` (as Google's BERT
// miniatures and many fine-tuned models ship) gets the `tokenizer.json` that transformers'
// BertTokenizerFast would build from it, built here in memory.
//
// Special tokens and truncation are done here rather than by the library's post-processor: it has
// no truncation, and BERT's inputs need the special tokens' ids by name from the vocabulary
// (`tokenizer_config.json` may rename them), never hard-coded numbers.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { DataError } from './data-error.ts';

export interface EncodedInput {
  inputIds: number[];
  tokenTypeIds: number[];
  attentionMask: number[];
}

export interface SpecialTokens {
  cls: string;
  sep: string;
  pad: string;
  unk: string;
  mask: string;
}

export interface SpecialTokenIds {
  cls: number;
  sep: number;
  pad: number;
  unk: number;
  /** Absent when the vocabulary has no mask token (it is not needed for fine-tuning). */
  mask: number | undefined;
}

export const DEFAULT_SPECIAL_TOKENS: Readonly<SpecialTokens> = {
  cls: '[CLS]',
  sep: '[SEP]',
  pad: '[PAD]',
  unk: '[UNK]',
  mask: '[MASK]',
};

export interface BertTokenizerOptions {
  /** Lowercase and strip accents, as uncased BERT (tokenizer_config `do_lower_case`, default true). */
  doLowerCase?: boolean;
  specialTokens?: Partial<SpecialTokens>;
  /** Where the vocabulary came from, for error messages. */
  source?: string;
}

export class BertTokenizer {
  readonly specialIds: SpecialTokenIds;
  readonly vocabSize: number;

  private constructor(
    private readonly tokenizer: Tokenizer,
    readonly specialTokens: SpecialTokens,
    readonly source: string,
  ) {
    const id = (name: keyof SpecialTokens): number => {
      const value = tokenizer.token_to_id(specialTokens[name]);
      if (value === undefined) {
        throw new DataError(source, undefined, `the vocabulary has no ${name} token '${specialTokens[name]}'`);
      }
      return value;
    };
    this.specialIds = {
      cls: id('cls'),
      sep: id('sep'),
      pad: id('pad'),
      unk: id('unk'),
      mask: tokenizer.token_to_id(specialTokens.mask),
    };
    this.vocabSize = tokenizer.get_vocab(true).size;
  }

  /** From a vocabulary (one token per id, as in `vocab.txt`). */
  static fromVocab(vocab: readonly string[], options: BertTokenizerOptions = {}): BertTokenizer {
    const source = options.source ?? 'vocabulary';
    const specialTokens = { ...DEFAULT_SPECIAL_TOKENS, ...options.specialTokens };
    const json = buildTokenizerJson(vocab, { doLowerCase: options.doLowerCase ?? true, specialTokens, source });
    return new BertTokenizer(new Tokenizer(json, {}), specialTokens, source);
  }

  /** From a `tokenizer.json` object (a checkpoint's own). */
  static fromTokenizerJson(json: object, options: { specialTokens?: Partial<SpecialTokens>; source?: string } = {}): BertTokenizer {
    const source = options.source ?? 'tokenizer.json';
    const model = (json as { model?: { type?: string } }).model;
    if (model?.type !== undefined && model.type !== 'WordPiece') {
      throw new DataError(source, undefined, `expected a WordPiece (BERT) tokenizer, found model type '${model.type}'`);
    }
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(json, {});
    } catch (cause) {
      throw new DataError(source, undefined, `not a usable tokenizer.json: ${(cause as Error).message}`, { cause });
    }
    return new BertTokenizer(tokenizer, { ...DEFAULT_SPECIAL_TOKENS, ...options.specialTokens }, source);
  }

  /** WordPiece tokens of one text, without special tokens. */
  tokenize(text: string): string[] {
    return this.tokenizer.tokenize(text, { add_special_tokens: false });
  }

  /** Token ids of one text, without special tokens and without truncation. */
  tokenIds(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /**
   * `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]` (token types 0 for the first segment with its
   * [CLS] and [SEP], 1 for the second with its [SEP]), truncated to `maxSeqLength` tokens in all
   * by removing one token at a time from the end of the longer text (from the second on a tie),
   * as transformers' `longest_first` and the paper's `_truncate_seq_pair` do. Not padded:
   * batches pad to their longest sequence.
   */
  encode(textA: string, textB: string | undefined, maxSeqLength: number): EncodedInput {
    const a = this.tokenIds(textA);
    const b = textB === undefined ? undefined : this.tokenIds(textB);
    return this.assemble(a, b, maxSeqLength);
  }

  /** `encode` for already tokenised ids (used by tests and by callers that cache token ids). */
  assemble(a: number[], b: number[] | undefined, maxSeqLength: number): EncodedInput {
    const special = b === undefined ? 2 : 3;
    if (!Number.isInteger(maxSeqLength) || maxSeqLength < special) {
      throw new RangeError(`max_seq_length ${maxSeqLength} leaves no room for the text (the special tokens alone take ${special})`);
    }
    const budget = maxSeqLength - special;
    let lenA = a.length;
    let lenB = b?.length ?? 0;
    if (b === undefined) {
      lenA = Math.min(lenA, budget);
    } else {
      // Literally the paper's `_truncate_seq_pair`: one token at a time off the longer text.
      while (lenA + lenB > budget) {
        if (lenA > lenB) lenA--;
        else lenB--;
      }
    }
    const { cls, sep } = this.specialIds;
    const inputIds = [cls, ...a.slice(0, lenA), sep];
    const tokenTypeIds = new Array<number>(inputIds.length).fill(0);
    if (b !== undefined) {
      inputIds.push(...b.slice(0, lenB), sep);
      for (let i = 0; i <= lenB; i++) tokenTypeIds.push(1);
    }
    return { inputIds, tokenTypeIds, attentionMask: new Array<number>(inputIds.length).fill(1) };
  }

  decode(ids: number[]): string {
    if (ids.length === 0) return '';
    return this.tokenizer.decode(ids, { skip_special_tokens: true });
  }

  idToToken(id: number): string | undefined {
    return this.tokenizer.id_to_token(id);
  }

  tokenToId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  /** The vocabulary in id order: what `vocab.txt` holds. */
  vocabulary(): string[] {
    const out = new Array<string>(this.vocabSize);
    for (const [token, id] of this.tokenizer.get_vocab(true)) out[id] = token;
    return out;
  }
}

/** The files a tokenizer is read from, as a checkpoint directory holds them. */
export const TOKENIZER_FILES = ['tokenizer.json', 'vocab.txt', 'tokenizer_config.json'] as const;

/** Reads a checkpoint directory's tokenizer: `tokenizer.json` if present, else `vocab.txt`. */
export function loadTokenizer(checkpointDir: string): BertTokenizer {
  const files = new Map<string, Uint8Array>();
  for (const name of TOKENIZER_FILES) {
    const path = join(checkpointDir, name);
    if (existsSync(path)) files.set(name, readFileSync(path));
  }
  return tokenizerFromFiles(files, checkpointDir);
}

/**
 * The same from files already in memory (e.g. a loaded model's vocabulary files, or a builtin
 * model's, which has no directory). `source` is the directory or name used in errors.
 */
export function tokenizerFromFiles(files: ReadonlyMap<string, Uint8Array>, source: string): BertTokenizer {
  const text = (name: string): string | undefined => {
    const bytes = files.get(name);
    return bytes === undefined ? undefined : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  };
  const configFile = join(source, 'tokenizer_config.json');
  const configText = text('tokenizer_config.json');
  const config = configText !== undefined ? parseJsonObject(configText, configFile) : {};
  const specialTokens = specialTokensFromConfig(config);
  const jsonFile = join(source, 'tokenizer.json');
  const jsonText = text('tokenizer.json');
  if (jsonText !== undefined) {
    return BertTokenizer.fromTokenizerJson(parseJsonObject(jsonText, jsonFile), { specialTokens, source: jsonFile });
  }
  const vocabFile = join(source, 'vocab.txt');
  const vocabText = text('vocab.txt');
  if (vocabText === undefined) {
    throw new DataError(source, undefined, 'no tokenizer.json or vocab.txt in the checkpoint');
  }
  const doLowerCase = config.do_lower_case ?? true;
  if (typeof doLowerCase !== 'boolean') throw new DataError(configFile, undefined, '`do_lower_case` should be true or false');
  return BertTokenizer.fromVocab(parseVocab(vocabText, vocabFile), { doLowerCase, specialTokens, source: vocabFile });
}

/** `vocab.txt`: one token per line, the line number (from 0) being its id. */
export function readVocab(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new DataError(file, undefined, `cannot read the vocabulary: ${String(cause)}`, { cause });
  }
  return parseVocab(text, file);
}

export function parseVocab(text: string, file: string): string[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const lines = text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const seen = new Map<string, number>();
  lines.forEach((token, id) => {
    // transformers keeps the first id of a duplicated token; a duplicate means a broken file.
    if (seen.has(token)) throw new DataError(file, id + 1, `token ${JSON.stringify(token)} appears again (first on line ${(seen.get(token) as number) + 1})`);
    seen.set(token, id);
  });
  if (lines.length === 0) throw new DataError(file, undefined, 'the vocabulary is empty');
  return lines;
}

/** The text of `vocab.txt` for a vocabulary. */
export function formatVocab(vocab: readonly string[]): string {
  return `${vocab.join('\n')}\n`;
}

interface BuildOptions {
  doLowerCase: boolean;
  specialTokens: SpecialTokens;
  source: string;
}

/** The `tokenizer.json` that transformers' BertTokenizerFast builds from a `vocab.txt`. */
export function buildTokenizerJson(vocab: readonly string[], options: BuildOptions): object {
  const ids: Record<string, number> = {};
  vocab.forEach((token, id) => {
    if (!Object.hasOwn(ids, token)) ids[token] = id;
  });
  const { cls, sep, pad, unk, mask } = options.specialTokens;
  const idOf = (token: string, what: string): number => {
    const id = ids[token];
    if (id === undefined) throw new DataError(options.source, undefined, `the vocabulary has no ${what} token '${token}'`);
    return id;
  };
  const clsId = idOf(cls, 'cls');
  const sepId = idOf(sep, 'sep');
  idOf(pad, 'pad');
  idOf(unk, 'unk');
  const added = [pad, unk, cls, sep, mask]
    .filter((token) => Object.hasOwn(ids, token))
    .map((token) => ({ id: ids[token], content: token, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }))
    .sort((x, y) => (x.id as number) - (y.id as number));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      // null means "follow lowercase", as transformers writes it for uncased BERT.
      strip_accents: null,
      lowercase: options.doLowerCase,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: cls, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: sep, type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: cls, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: sep, type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: sep, type_id: 1 } },
      ],
      special_tokens: {
        [cls]: { id: cls, ids: [clsId], tokens: [cls] },
        [sep]: { id: sep, ids: [sepId], tokens: [sep] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: unk,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: ids,
    },
  };
}

interface TokenizerConfigJson {
  do_lower_case?: unknown;
  cls_token?: unknown;
  sep_token?: unknown;
  pad_token?: unknown;
  unk_token?: unknown;
  mask_token?: unknown;
}

function specialTokensFromConfig(config: TokenizerConfigJson): Partial<SpecialTokens> {
  const out: Partial<SpecialTokens> = {};
  const pick = (value: unknown): string | undefined => {
    if (typeof value === 'string') return value;
    // transformers also writes AddedToken objects: {"content": "[CLS]", ...}.
    if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') return (value as { content: string }).content;
    return undefined;
  };
  for (const key of ['cls', 'sep', 'pad', 'unk', 'mask'] as const) {
    const token = pick(config[`${key}_token`]);
    if (token !== undefined) out[key] = token;
  }
  return out;
}

function parseJsonObject(text: string, file: string): TokenizerConfigJson & object {
  try {
    const value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('expected a JSON object');
    return value as TokenizerConfigJson & object;
  } catch (cause) {
    throw new DataError(file, undefined, `cannot read: ${(cause as Error).message}`, { cause });
  }
}
