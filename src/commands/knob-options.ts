import { KNOBS, type Knob, type KnobName, parseKnob } from '@pv-pipeline/core/config';
import { type Command, InvalidArgumentError, Option } from 'commander';

/**
 * Adds the flags of these knobs (core's one config table) to a command: the
 * doc, a parser from the knob's schema (a bad value is a usage error naming
 * the flag), and the default, which for some knobs is their environment
 * variable when set (`PV_SOURCE` for `--source`).
 */
export function addKnobOptions(
  command: Command,
  names: readonly KnobName[],
  env: NodeJS.ProcessEnv = process.env,
): Command {
  for (const name of names) {
    const knob: Knob = KNOBS[name];
    if (!knob.flag) throw new Error(`knob ${name} has no flag`);
    if (!knob.flag.includes('<')) {
      command.addOption(new Option(knob.flag, knob.doc));
      continue;
    }
    const fallback = knob.schema.safeParse(undefined);
    const hasDefault = fallback.success && fallback.data !== undefined;
    const doc = hasDefault ? knob.doc : `${knob.doc} (default: ${knob.defaultDoc})`;
    const option = new Option(knob.flag, doc).argParser((text: string) => {
      try {
        return parseKnob(name, text);
      } catch (err) {
        // a BadInputError: its reason, without the flag (commander names it)
        throw new InvalidArgumentError((err as { reason?: string }).reason ?? String(err));
      }
    });
    const fromEnv = knob.envDefaultsFlag && knob.env ? env[knob.env] : undefined;
    if (fromEnv !== undefined && fromEnv !== '') option.default(parseKnob(name, fromEnv), `$${knob.env}: ${fromEnv}`);
    else if (hasDefault) option.default(fallback.data, knob.defaultDoc);
    command.addOption(option);
  }
  return command;
}

/** The knobs `pv-pipeline run` reads, in table order. */
export function runKnobs(): KnobName[] {
  return (Object.keys(KNOBS) as KnobName[]).filter((n) => {
    const k: Knob = KNOBS[n];
    return k.flag !== undefined && k.readers.includes('run');
  });
}
