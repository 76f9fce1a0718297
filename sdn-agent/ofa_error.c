/* ofa_error.c — names of OpenFlow error types and codes, for logs and tests. */
#include <stdio.h>

#include "ofa_internal.h"

#define N(X) [X] = #X

static const char *const ofa_type_names[] = {
	N(OFPET_HELLO_FAILED), N(OFPET_BAD_REQUEST), N(OFPET_BAD_ACTION),
	N(OFPET_BAD_INSTRUCTION), N(OFPET_BAD_MATCH), N(OFPET_FLOW_MOD_FAILED),
	N(OFPET_GROUP_MOD_FAILED), N(OFPET_PORT_MOD_FAILED), N(OFPET_TABLE_MOD_FAILED),
	N(OFPET_QUEUE_OP_FAILED), N(OFPET_SWITCH_CONFIG_FAILED),
	N(OFPET_ROLE_REQUEST_FAILED), N(OFPET_METER_MOD_FAILED),
	N(OFPET_TABLE_FEATURES_FAILED),
};

static const char *const ofa_hfc[] = { N(OFPHFC_INCOMPATIBLE), N(OFPHFC_EPERM) };
static const char *const ofa_brc[] = {
	N(OFPBRC_BAD_VERSION), N(OFPBRC_BAD_TYPE), N(OFPBRC_BAD_MULTIPART),
	N(OFPBRC_BAD_EXPERIMENTER), N(OFPBRC_BAD_EXP_TYPE), N(OFPBRC_EPERM),
	N(OFPBRC_BAD_LEN), N(OFPBRC_BUFFER_EMPTY), N(OFPBRC_BUFFER_UNKNOWN),
	N(OFPBRC_BAD_TABLE_ID), N(OFPBRC_IS_SLAVE), N(OFPBRC_BAD_PORT),
	N(OFPBRC_BAD_PACKET), N(OFPBRC_MULTIPART_BUFFER_OVERFLOW),
};
static const char *const ofa_bac[] = {
	N(OFPBAC_BAD_TYPE), N(OFPBAC_BAD_LEN), N(OFPBAC_BAD_EXPERIMENTER),
	N(OFPBAC_BAD_EXP_TYPE), N(OFPBAC_BAD_OUT_PORT), N(OFPBAC_BAD_ARGUMENT),
	N(OFPBAC_EPERM), N(OFPBAC_TOO_MANY), N(OFPBAC_BAD_QUEUE), N(OFPBAC_BAD_OUT_GROUP),
	N(OFPBAC_MATCH_INCONSISTENT), N(OFPBAC_UNSUPPORTED_ORDER), N(OFPBAC_BAD_TAG),
	N(OFPBAC_BAD_SET_TYPE), N(OFPBAC_BAD_SET_LEN), N(OFPBAC_BAD_SET_ARGUMENT),
};
static const char *const ofa_bic[] = {
	N(OFPBIC_UNKNOWN_INST), N(OFPBIC_UNSUP_INST), N(OFPBIC_BAD_TABLE_ID),
	N(OFPBIC_UNSUP_METADATA), N(OFPBIC_UNSUP_METADATA_MASK), N(OFPBIC_BAD_EXPERIMENTER),
	N(OFPBIC_BAD_EXP_TYPE), N(OFPBIC_BAD_LEN), N(OFPBIC_EPERM),
};
static const char *const ofa_bmc[] = {
	N(OFPBMC_BAD_TYPE), N(OFPBMC_BAD_LEN), N(OFPBMC_BAD_TAG), N(OFPBMC_BAD_DL_ADDR_MASK),
	N(OFPBMC_BAD_NW_ADDR_MASK), N(OFPBMC_BAD_WILDCARDS), N(OFPBMC_BAD_FIELD),
	N(OFPBMC_BAD_VALUE), N(OFPBMC_BAD_MASK), N(OFPBMC_BAD_PREREQ), N(OFPBMC_DUP_FIELD),
	N(OFPBMC_EPERM),
};
static const char *const ofa_fmfc[] = {
	N(OFPFMFC_UNKNOWN), N(OFPFMFC_TABLE_FULL), N(OFPFMFC_BAD_TABLE_ID), N(OFPFMFC_OVERLAP),
	N(OFPFMFC_EPERM), N(OFPFMFC_BAD_TIMEOUT), N(OFPFMFC_BAD_COMMAND), N(OFPFMFC_BAD_FLAGS),
};
static const char *const ofa_gmfc[] = {
	N(OFPGMFC_GROUP_EXISTS), N(OFPGMFC_INVALID_GROUP), N(OFPGMFC_WEIGHT_UNSUPPORTED),
	N(OFPGMFC_OUT_OF_GROUPS), N(OFPGMFC_OUT_OF_BUCKETS), N(OFPGMFC_CHAINING_UNSUPPORTED),
	N(OFPGMFC_WATCH_UNSUPPORTED), N(OFPGMFC_LOOP), N(OFPGMFC_UNKNOWN_GROUP),
	N(OFPGMFC_CHAINED_GROUP), N(OFPGMFC_BAD_TYPE), N(OFPGMFC_BAD_COMMAND),
	N(OFPGMFC_BAD_BUCKET), N(OFPGMFC_BAD_WATCH), N(OFPGMFC_EPERM),
};
static const char *const ofa_pmfc[] = {
	N(OFPPMFC_BAD_PORT), N(OFPPMFC_BAD_HW_ADDR), N(OFPPMFC_BAD_CONFIG),
	N(OFPPMFC_BAD_ADVERTISE), N(OFPPMFC_EPERM),
};
static const char *const ofa_tmfc[] = { N(OFPTMFC_BAD_TABLE), N(OFPTMFC_BAD_CONFIG),
					N(OFPTMFC_EPERM) };
static const char *const ofa_scfc[] = { N(OFPSCFC_BAD_FLAGS), N(OFPSCFC_BAD_LEN),
					N(OFPSCFC_EPERM) };
static const char *const ofa_rrfc[] = { N(OFPRRFC_STALE), N(OFPRRFC_UNSUP), N(OFPRRFC_BAD_ROLE) };
static const char *const ofa_tffc[] = {
	N(OFPTFFC_BAD_TABLE), N(OFPTFFC_BAD_METADATA), N(OFPTFFC_BAD_TYPE), N(OFPTFFC_BAD_LEN),
	N(OFPTFFC_BAD_ARGUMENT), N(OFPTFFC_EPERM),
};

struct ofa_code_names {
	const char *const *names;
	size_t n;
};

#define C(T, A) [T] = { A, sizeof(A) / sizeof((A)[0]) }
static const struct ofa_code_names ofa_codes[] = {
	C(OFPET_HELLO_FAILED, ofa_hfc), C(OFPET_BAD_REQUEST, ofa_brc),
	C(OFPET_BAD_ACTION, ofa_bac), C(OFPET_BAD_INSTRUCTION, ofa_bic),
	C(OFPET_BAD_MATCH, ofa_bmc), C(OFPET_FLOW_MOD_FAILED, ofa_fmfc),
	C(OFPET_GROUP_MOD_FAILED, ofa_gmfc), C(OFPET_PORT_MOD_FAILED, ofa_pmfc),
	C(OFPET_TABLE_MOD_FAILED, ofa_tmfc), C(OFPET_SWITCH_CONFIG_FAILED, ofa_scfc),
	C(OFPET_ROLE_REQUEST_FAILED, ofa_rrfc), C(OFPET_TABLE_FEATURES_FAILED, ofa_tffc),
};

const char *ofa_err_name(int err, char *buf, size_t len)
{
	uint16_t type, code;
	const char *tn = NULL, *cn = NULL;

	if (err <= 0 || !ofa_err_is_ofp(err)) {
		snprintf(buf, len, "errno %d", err < 0 ? -err : err);
		return buf;
	}
	type = ofa_err_type(err);
	code = ofa_err_code(err);
	if (type < sizeof(ofa_type_names) / sizeof(ofa_type_names[0]))
		tn = ofa_type_names[type];
	if (type < sizeof(ofa_codes) / sizeof(ofa_codes[0]) && code < ofa_codes[type].n)
		cn = ofa_codes[type].names[code];
	if (tn && cn)
		snprintf(buf, len, "%s/%s", tn, cn);
	else
		snprintf(buf, len, "type %u/code %u", type, code);
	return buf;
}
