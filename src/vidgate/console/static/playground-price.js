// What a request would cost, read from the model's pricing in GET v1/models (the price table in
// force): the tier is the value of its tier parameter (mode or resolution), then a price per
// duration or per second, plus audio. The server decides; this is shown before Generate.

import { money } from "./api.js";

export function estimate(model, body) {
  const pricing = model.pricing;
  if (!pricing) return "";
  const param = model.parameters[pricing.tier_parameter] || {};
  const tierName = String(body[pricing.tier_parameter] ?? param.default ?? (param.values || [])[0] ?? "").toLowerCase();
  const tier = pricing.tiers[tierName];
  if (!tier) return `No price for ${pricing.tier_parameter} ${tierName}: the server will refuse it.`;
  if (pricing.billing === "per_second") {
    return `Price: ${money(tier.per_second)} per second of the reference video (${tierName}).`;
  }
  const seconds = Number(body.duration ?? model.parameters.duration?.default);
  let price;
  if (tier.durations) price = tier.durations[String(seconds)];
  else if (tier.per_second !== undefined) price = tier.per_second * seconds;
  if (price === undefined) return `No price for ${seconds} s in ${tierName}.`;
  if (body.audio === true) {
    if (tier.audio) price += tier.audio[String(seconds)] ?? 0;
    else if (tier.audio_per_second !== undefined) price += tier.audio_per_second * seconds;
  }
  return `Price: ${money(Math.round(price * 1e6) / 1e6)} (${tierName}, ${seconds} s${body.audio ? ", audio" : ""}).`;
}
