/**
 * peft_type -> method. A new method adds its folder and one line here.
 */
import type { PeftConfigBase } from './config.js';
import { IA3 } from './ia3/model.js';
import { LORA } from './lora/model.js';
import { BOTTLENECK } from './bottleneck/model.js';
import type { PeftMethod } from './method.js';
import { MOE_LORA } from './moe-lora/model.js';
import { PREFIX_TUNING, PROMPT_TUNING, P_TUNING } from './prompt/model.js';

const METHODS = new Map<string, PeftMethod>();

/** Register a method under its peft_type (later registrations replace earlier ones). */
export function registerMethod<C extends PeftConfigBase>(method: PeftMethod<C>): void {
  METHODS.set(method.peftType, method);
}

registerMethod(LORA);
registerMethod(IA3);
registerMethod(PROMPT_TUNING);
registerMethod(P_TUNING);
registerMethod(PREFIX_TUNING);
registerMethod(MOE_LORA);
registerMethod(BOTTLENECK);

/** The method for a peft_type; an unknown one is an error naming `label` (the config file). */
export function methodFor(peftType: string, label = 'adapter config'): PeftMethod {
  const m = METHODS.get(peftType);
  if (!m)
    throw new Error(
      `${label}: peft_type ${JSON.stringify(peftType)} is not supported (supported: ${[...METHODS.keys()].join(', ')})`,
    );
  return m;
}

/** Supported peft_type values. */
export function supportedPeftTypes(): string[] {
  return [...METHODS.keys()];
}
