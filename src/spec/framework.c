/* spec/framework: the software stacks a job can name (training.framework) - what each
 * overlaps by default and the two constants it adds to the kernels' microbenchmarked
 * speed. The constants are the step model's only fitted ones; `ultrasim validate --cv`
 * refits them without each group of the calibration set, and docs/MODEL.md 6.6 gives the
 * shipped values' fit. */
#include <string.h>

#include "spec/spec.h"

static const struct {
    const char *name;
    bool tp_overlap;     /* overlaps TP collectives with GEMMs by default */
    bool tp_overlap_can; /* can overlap them: search tries both where the job leaves it open */
    struct spec_fw_params p;
} frameworks[SPEC_FW_COUNT] = {
    /* {compute_eff, kernel_host_s}: fitted on all 138 calibration cases (mean |error|;
     * `ultrasim validate --cv software --format json`, params_all_cases; docs/MODEL.md 6.6).
     * A framework no case runs takes the median of the fitted ones, as cross-validation
     * gives a held-out framework. kernel_host_s, the least time a kernel takes, is bounded to
     * 50 us; megatron's, torchtitan's and maxtext's fits sit on the bound - more than a launch
     * costs the host, so it carries what else makes small kernels slow there (per-expert
     * GEMMs, synchronisation, Python dispatch). */
    [SPEC_FW_AUTO] = {"auto", false, false, {1.0, 0.0}},
    /* Megatron-Core (Megatron-LM, NeMo, Megatron-Bridge): the NeMo and Bridge performance
     * recipes set tp_comm_overlap (Transformer Engine userbuffers) whenever tp > 1. */
    [SPEC_FW_MEGATRON] = {"megatron", true, true, {0.816, 5.0e-5}},
    /* torchtitan: async TP is opt-in (parallelism.enable_async_tensor_parallel, with
     * torch.compile). */
    [SPEC_FW_TORCHTITAN] = {"torchtitan", false, true, {0.716, 5.0e-5}},
    /* MaxText: XLA schedules collectives beside the matmuls that do not need them. */
    [SPEC_FW_MAXTEXT] = {"maxtext", true, true, {0.940, 5.0e-5}},
    /* Neuron (NeuronX Distributed / neuronx-nemo-megatron): no TP overlap documented. */
    [SPEC_FW_NEURON] = {"neuron", false, false, {0.806, 6.3e-6}},
    /* DeepSpeed (Megatron-DeepSpeed): no calibration case; no TP overlap. */
    [SPEC_FW_DEEPSPEED] = {"deepspeed", false, false, {0.811, 5.0e-5}},
};

const char *spec_framework_name(int fw)
{
    return fw >= 0 && fw < SPEC_FW_COUNT ? frameworks[fw].name : "?";
}

int spec_framework_default(const struct spec_system *sys)
{
    const char *f = sys->chip.family;
    if (strncmp(f, "google-tpu", 10) == 0)
        return SPEC_FW_MAXTEXT;
    if (strncmp(f, "aws-trainium", 12) == 0)
        return SPEC_FW_NEURON;
    return SPEC_FW_MEGATRON;
}

struct spec_fw_params spec_framework_params(int fw)
{
    return frameworks[fw > SPEC_FW_AUTO && fw < SPEC_FW_COUNT ? fw : SPEC_FW_MEGATRON].p;
}

void spec_job_use_framework(struct spec_job *j, int fw, bool tp_overlap_given)
{
    j->train.framework = fw;
    j->train.fw = spec_framework_params(fw);
    j->par.tp_comm_overlap_given = tp_overlap_given;
    if (!tp_overlap_given)
        j->par.tp_comm_overlap = spec_framework_tp_overlap(fw);
}

bool spec_framework_tp_overlap_can(int fw)
{
    return fw > SPEC_FW_AUTO && fw < SPEC_FW_COUNT && frameworks[fw].tp_overlap_can;
}

bool spec_framework_tp_overlap(int fw)
{
    return fw > SPEC_FW_AUTO && fw < SPEC_FW_COUNT && frameworks[fw].tp_overlap;
}
