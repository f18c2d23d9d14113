/*
 * run_config.c - runs.config to and from MlpRunConfig through one table of options.
 */
#include "postgres.h"

#include <stddef.h>

#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/numeric.h"

#include "run_config.h"

typedef enum OptionType
{
	OPT_INT,					/* int */
	OPT_INT_0_NULL,				/* int, 0 stored as null */
	OPT_INT64,					/* int64 */
	OPT_INT64_0_ABSENT,			/* int64, 0 not stored at all */
	OPT_INT64_0_NULL,			/* int64, 0 stored as null */
	OPT_REAL,					/* double, written as %.9g: the arguments are float4 */
	OPT_BOOL,
	OPT_TEXT,					/* char *, NULL stored as null */
	OPT_FLOATS,					/* float[MLP_MAX_CHANNELS] with a count; 0 values = null */
	OPT_PRECISION,				/* MlpMatmulPrecision, by name */
	OPT_OID_NULL,				/* Oid, InvalidOid stored as null */
	OPT_OID_ABSENT				/* Oid, InvalidOid not stored at all */
} OptionType;

typedef struct Option
{
	const char *key;
	OptionType	type;
	size_t		offset;			/* of the field in MlpRunConfig */
	size_t		count_offset;	/* OPT_FLOATS: of the int holding the count */
} Option;

#define OPT(key, type, field) {key, type, offsetof(MlpRunConfig, field), 0}
#define OPT_ARRAY(key, field, count) \
	{key, OPT_FLOATS, offsetof(MlpRunConfig, field), offsetof(MlpRunConfig, count)}

/*
 * Every option of runs.config.  A new training option is a line here.  arch and epochs are
 * also columns of mlpscale.runs, and the columns are what counts (MlpRunConfigFromJsonb
 * leaves them alone): they are written here so that a config describes its run whole.
 */
static const Option options[] = {
	OPT("arch", OPT_TEXT, arch),
	OPT("epochs", OPT_INT, epochs),
	OPT("batch_size", OPT_INT, batch_size),
	OPT("optimizer", OPT_TEXT, optimizer),
	OPT("lr", OPT_REAL, lr),
	OPT("weight_decay", OPT_REAL, weight_decay),
	OPT("body_lr_mult", OPT_REAL, body_lr_mult),
	OPT("label_smoothing", OPT_REAL, label_smoothing),
	OPT("mixup", OPT_REAL, mixup),
	OPT("augment", OPT_BOOL, augment),
	OPT("resolution", OPT_INT_0_NULL, resolution),
	OPT("seed", OPT_INT64, seed),
	OPT("image_column", OPT_TEXT, image_column),
	OPT("label_column", OPT_TEXT, label_column),
	OPT("cosine", OPT_BOOL, cosine),
	OPT("clip_norm", OPT_REAL, clip_norm),
	OPT("classes", OPT_INT_0_NULL, classes),
	OPT_ARRAY("mean", mean, num_mean),
	OPT_ARRAY("std", std, num_std),
	OPT("threads", OPT_INT, threads),
	OPT("matmul_precision", OPT_PRECISION, matmul_precision),
	OPT("base_model_id", OPT_INT64_0_ABSENT, base_model_id),
	OPT("source_relid", OPT_OID_NULL, source_relid),
	OPT("validation_relid", OPT_OID_ABSENT, validation_relid),
	OPT("search_path", OPT_TEXT, search_path),
	OPT("train_size", OPT_INT64_0_NULL, train_size),
	OPT("per_class", OPT_INT64_0_NULL, per_class),
	OPT("early_stop", OPT_INT_0_NULL, early_stop),
};

#define FIELD(cfg, opt, type) ((type *) ((char *) (cfg) + (opt)->offset))

/* ---- checks ----------------------------------------------------------------------------- */

/*
 * The precision of a run's matrix products: 'fp32' (OpenBLAS SGEMM) or 'bf16' (operands
 * rounded to bfloat16, sums in float), which needs AVX512_BF16.  mlp_train and mlp_finetune
 * check it so that a mistake is an error of the call; the worker checks again, for a run
 * queued on another machine.
 */
MlpMatmulPrecision
MlpCheckMatmulPrecision(const char *name)
{
	MlpMatmulPrecision p;

	if (mlp_matmul_precision_parse(name, &p) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid matmul_precision \"%s\"", name),
				 errhint("Use 'fp32' or 'bf16'.")));
	if (p == MLP_MATMUL_BF16 && !mlp_blas_bf16_supported())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("matmul_precision 'bf16' needs a CPU with AVX512_BF16"),
				 errhint("Use matmul_precision => 'fp32', the default.")));
	return p;
}

/* ---- writing ----------------------------------------------------------------------------- */

static void
WriteValue(StringInfo buf, const MlpRunConfig *cfg, const Option *o)
{
	switch (o->type)
	{
		case OPT_INT:
			appendStringInfo(buf, "%d", *FIELD(cfg, o, const int));
			break;
		case OPT_INT_0_NULL:
			if (*FIELD(cfg, o, const int) != 0)
				appendStringInfo(buf, "%d", *FIELD(cfg, o, const int));
			else
				appendStringInfoString(buf, "null");
			break;
		case OPT_INT64:
		case OPT_INT64_0_ABSENT:
			appendStringInfo(buf, INT64_FORMAT, *FIELD(cfg, o, const int64));
			break;
		case OPT_INT64_0_NULL:
			if (*FIELD(cfg, o, const int64) != 0)
				appendStringInfo(buf, INT64_FORMAT, *FIELD(cfg, o, const int64));
			else
				appendStringInfoString(buf, "null");
			break;
		case OPT_REAL:
			/* %.9g round-trips a float4, which is what the trainer uses */
			appendStringInfo(buf, "%.9g", *FIELD(cfg, o, const double));
			break;
		case OPT_BOOL:
			appendStringInfoString(buf, *FIELD(cfg, o, const bool) ? "true" : "false");
			break;
		case OPT_TEXT:
			if (*FIELD(cfg, o, char *const))
				escape_json(buf, *FIELD(cfg, o, char *const));
			else
				appendStringInfoString(buf, "null");
			break;
		case OPT_FLOATS:
			{
				int			n = *(const int *) ((const char *) cfg + o->count_offset);
				const float *v = FIELD(cfg, o, const float);

				if (n == 0)
				{
					appendStringInfoString(buf, "null");
					break;
				}
				appendStringInfoChar(buf, '[');
				for (int i = 0; i < n; i++)
					appendStringInfo(buf, "%s%.9g", i ? ", " : "", v[i]);
				appendStringInfoChar(buf, ']');
				break;
			}
		case OPT_PRECISION:
			escape_json(buf, mlp_matmul_precision_name(*FIELD(cfg, o, const MlpMatmulPrecision)));
			break;
		case OPT_OID_NULL:
		case OPT_OID_ABSENT:
			if (OidIsValid(*FIELD(cfg, o, const Oid)))
				appendStringInfo(buf, "%u", *FIELD(cfg, o, const Oid));
			else
				appendStringInfoString(buf, "null");
			break;
	}
}

char *
MlpRunConfigToJson(const MlpRunConfig *cfg)
{
	StringInfoData buf;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < lengthof(options); i++)
	{
		const Option *o = &options[i];

		if ((o->type == OPT_INT64_0_ABSENT && *FIELD(cfg, o, const int64) == 0) ||
			(o->type == OPT_OID_ABSENT && !OidIsValid(*FIELD(cfg, o, const Oid))))
			continue;
		if (!first)
			appendStringInfoString(&buf, ", ");
		first = false;
		escape_json(&buf, o->key);
		appendStringInfoString(&buf, ": ");
		WriteValue(&buf, cfg, o);
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* ---- reading ----------------------------------------------------------------------------- */

static void
BadValue(const char *key, const char *want)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("run config key \"%s\" must be %s", key, want)));
}

static double
NumericValue(const JsonbValue *v, const char *key)
{
	if (v->type != jbvNumeric)
		BadValue(key, "a number");
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
}

static int64
IntegerValue(const JsonbValue *v, const char *key)
{
	if (v->type != jbvNumeric)
		BadValue(key, "a number");
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric)));
}

static char *
TextValue(const JsonbValue *v, const char *key)
{
	if (v->type != jbvString)
		BadValue(key, "a string");
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* The numbers of a JSON array into out (at most max); returns how many. */
static int
FloatsValue(const JsonbValue *v, const char *key, float *out, int max)
{
	JsonbIterator *it;
	JsonbValue	elem;
	JsonbIteratorToken tok;
	int			n = 0;

	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		BadValue(key, "an array of numbers");
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (n == max)
			BadValue(key, psprintf("an array of at most %d numbers", max));
		out[n++] = (float) NumericValue(&elem, key);
	}
	return n;
}

static void
ReadValue(const JsonbValue *v, MlpRunConfig *cfg, const Option *o)
{
	switch (o->type)
	{
		case OPT_INT:
		case OPT_INT_0_NULL:
			*FIELD(cfg, o, int) = (int) IntegerValue(v, o->key);
			break;
		case OPT_INT64:
		case OPT_INT64_0_ABSENT:
		case OPT_INT64_0_NULL:
			*FIELD(cfg, o, int64) = IntegerValue(v, o->key);
			break;
		case OPT_REAL:
			*FIELD(cfg, o, double) = NumericValue(v, o->key);
			break;
		case OPT_BOOL:
			if (v->type != jbvBool)
				BadValue(o->key, "true or false");
			*FIELD(cfg, o, bool) = v->val.boolean;
			break;
		case OPT_TEXT:
			*FIELD(cfg, o, char *) = TextValue(v, o->key);
			break;
		case OPT_FLOATS:
			*(int *) ((char *) cfg + o->count_offset) =
				FloatsValue(v, o->key, FIELD(cfg, o, float), MLP_MAX_CHANNELS);
			break;
		case OPT_PRECISION:
			{
				char	   *name = TextValue(v, o->key);

				if (mlp_matmul_precision_parse(name, FIELD(cfg, o, MlpMatmulPrecision)) != 0)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid matmul_precision \"%s\"", name),
							 errhint("Use 'fp32' or 'bf16'.")));
				break;
			}
		case OPT_OID_NULL:
		case OPT_OID_ABSENT:
			*FIELD(cfg, o, Oid) = (Oid) IntegerValue(v, o->key);
			break;
	}
}

/* The default of an option whose key is missing or null. */
static void
ClearValue(MlpRunConfig *cfg, const Option *o)
{
	switch (o->type)
	{
		case OPT_INT:
		case OPT_INT_0_NULL:
			*FIELD(cfg, o, int) = 0;
			break;
		case OPT_INT64:
		case OPT_INT64_0_ABSENT:
		case OPT_INT64_0_NULL:
			*FIELD(cfg, o, int64) = 0;
			break;
		case OPT_REAL:
			*FIELD(cfg, o, double) = 0;
			break;
		case OPT_BOOL:
			*FIELD(cfg, o, bool) = false;
			break;
		case OPT_TEXT:
			*FIELD(cfg, o, char *) = NULL;
			break;
		case OPT_FLOATS:
			*(int *) ((char *) cfg + o->count_offset) = 0;
			break;
		case OPT_PRECISION:
			*FIELD(cfg, o, MlpMatmulPrecision) = MLP_MATMUL_FP32;
			break;
		case OPT_OID_NULL:
		case OPT_OID_ABSENT:
			*FIELD(cfg, o, Oid) = InvalidOid;
			break;
	}
}

void
MlpRunConfigFromJsonb(Jsonb *config, MlpRunConfig *cfg)
{
	if (!JB_ROOT_IS_OBJECT(config))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("run config must be a JSON object")));
	for (int i = 0; i < lengthof(options); i++)
	{
		const Option *o = &options[i];
		JsonbValue *v;

		if (o->offset == offsetof(MlpRunConfig, arch) ||
			o->offset == offsetof(MlpRunConfig, epochs))
			continue;
		v = getKeyJsonValueFromContainer(&config->root, o->key, strlen(o->key), NULL);
		if (v == NULL || v->type == jbvNull)
			ClearValue(cfg, o);
		else
			ReadValue(v, cfg, o);
	}
	/* mlp_train stores both or neither; anything else means "compute them" */
	if (cfg->num_std != cfg->num_mean)
		cfg->num_mean = cfg->num_std = 0;
}

/*
 * mlpscale.decode_run_config(config): the config as the worker reads it, written back as
 * mlp_train writes it.  For tests: equal to its argument for every config mlp_train stores.
 */
PG_FUNCTION_INFO_V1(mlp_decode_run_config);
Datum
mlp_decode_run_config(PG_FUNCTION_ARGS)
{
	MlpRunConfig cfg;

	Jsonb	   *config = PG_GETARG_JSONB_P(0);
	JsonbValue *v;

	memset(&cfg, 0, sizeof(cfg));
	MlpRunConfigFromJsonb(config, &cfg);
	/* the columns' copies, which the worker takes from the columns */
	if ((v = getKeyJsonValueFromContainer(&config->root, "arch", 4, NULL)) && v->type == jbvString)
		cfg.arch = TextValue(v, "arch");
	if ((v = getKeyJsonValueFromContainer(&config->root, "epochs", 6, NULL)) && v->type == jbvNumeric)
		cfg.epochs = (int) IntegerValue(v, "epochs");
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(MlpRunConfigToJson(&cfg))));
}
