/**
 * Transfer attack (Papernot, McDaniel & Goodfellow 2016, "Transferability in Machine Learning";
 * Tramèr et al. 2018): adversarial examples crafted with PGD on a surrogate model, then scored
 * on the target. It needs no gradient of the target, so a target that masks its gradients
 * still falls if the surrogate's examples transfer.
 *
 * Update: x' = PGD_surrogate(x) (maximising the surrogate's loss, last iterate), scored on the target.
 * Defaults: PGD-20 on the surrogate, α = 2.5·ε/steps, random start, ce loss.
 * The runner counts the target's passes (one forward pass per image, the re-score) and the
 * surrogate's apart (`surrogatePasses`), projects the result and re-scores it on the target.
 */
import { pgd } from './pgd';
import { defineAttack } from './runner';

export const transfer = defineAttack('transfer', {
  async run(ctx) {
    const { surrogate, stepSize, ...rest } = ctx.options;
    ctx.planSteps(0); // PGD on the surrogate reports its own steps
    const crafted = await pgd(surrogate, ctx.x, ctx.y, ctx.threat, {
      ...rest,
      ...(stepSize !== undefined ? { stepSize } : {}),
      keep: 'last',
      ...ctx.controls,
    });
    return crafted.xAdv;
  },
});
