/*
 * scaleout.c - models published to other servers, and scoring where the shards are.
 *
 * mlp_publish(model_ref, server) copies one stored version to a postgres_fdw foreign server,
 * under the same 'name@N', through the remote's own mlp_import(..., version => N): the
 * remote checks and stores it as its imports, and both sides compare the SHA-256 of the
 * stored weights (models.content_sha256) before the remote transaction commits.
 * mlp_classify_batch(model, query, servers) sends the query to every server first and only
 * then reads the answers, so the servers score at the same time; each server's copy of the
 * version must have the coordinator's hash.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/tuplestore.h"

#include "model_store.h"
#include "remote.h"
#include "scaleout.h"
#include "sql_values.h"

/* The local version that ref means, pinned ("name@N"), and its SHA-256. */
typedef struct PinnedVersion
{
	char	   *name;
	int			version;
	char	   *ref;
	char	   *sha256_hex;		/* lower-case hex, as encode(content_sha256, 'hex') */
} PinnedVersion;

/* The caller's right to use the version is checked here, as for mlp_export. */
static void
ResolvePinned(const char *ref, PinnedVersion *p)
{
	int			asked;
	bytea	   *hash = MlpModelStoreContentHash(ref, &p->version);

	MlpParseModelRef(ref, &p->name, &asked);
	p->ref = psprintf("%s@%d", p->name, p->version);
	p->sha256_hex = TextDatumGetCString(DirectFunctionCall2(binary_encode, PointerGetDatum(hash),
															CStringGetTextDatum("hex")));
}

/* The remote copy's hash ("" when the server has no such version visible to us). */
static char *
RemoteHash(PGconn *conn, const char *server, const PinnedVersion *p)
{
	char		version[16];
	const char *params[2] = {p->name, version};
	PGresult   *res;
	char	   *hex;

	snprintf(version, sizeof(version), "%d", p->version);
	res = MlpRemoteExec(conn, server,
						"SELECT pg_catalog.encode(content_sha256, 'hex') FROM mlpscale.models "
						"WHERE name OPERATOR(pg_catalog.=) $1 AND version OPERATOR(pg_catalog.=) $2::pg_catalog.int4",
						2, params, NULL, NULL, PGRES_TUPLES_OK);
	hex = pstrdup(PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	return hex;
}

/* ERROR unless server holds p under the same reference and content. */
static void
CheckPublished(PGconn *conn, const char *server, const PinnedVersion *p)
{
	char	   *hex = RemoteHash(conn, server, p);

	if (hex[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model %s is not published on server \"%s\"", p->ref, server),
				 errhint("Publish it first: SELECT mlp_publish('%s', '%s').", p->ref, server)));
	if (strcmp(hex, p->sha256_hex) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("model %s on server \"%s\" is not the published version", p->ref, server),
				 errdetail("Its SHA-256 is %s; here it is %s.", hex, p->sha256_hex)));
}

/* mlp_publish(model_ref, server): the reference 'name@N' that now exists on server. */
PG_FUNCTION_INFO_V1(mlp_publish);
Datum
mlp_publish(PG_FUNCTION_ARGS)
{
	char	   *ref = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *server = text_to_cstring(PG_GETARG_TEXT_PP(1));
	PinnedVersion p;
	bytea	   *weights;
	PGconn	   *conn;

	ResolvePinned(ref, &p);
	/* the weights of the version just pinned: a newer version changes nothing */
	weights = MlpModelStoreWeights(p.ref, NULL);
	conn = MlpRemoteConnect(server);
	PG_TRY();
	{
		char	   *schema = MlpRemoteSchema(conn, server);
		char		version[16];
		const char *params[3] = {p.name, VARDATA_ANY(weights), version};
		int			lengths[3] = {0, (int) VARSIZE_ANY_EXHDR(weights), 0};
		int			formats[3] = {0, 1, 0};
		char	   *hex;

		snprintf(version, sizeof(version), "%d", p.version);
		PQclear(MlpRemoteExec(conn, server, "BEGIN", 0, NULL, NULL, NULL, PGRES_COMMAND_OK));
		PQclear(MlpRemoteExec(conn, server,
							  psprintf("SELECT %s.mlp_import($1, $2::pg_catalog.bytea, version => $3::pg_catalog.int4)",
									   schema),
							  3, params, lengths, formats, PGRES_TUPLES_OK));
		hex = RemoteHash(conn, server, &p);
		if (strcmp(hex, p.sha256_hex) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("the copy of %s on server \"%s\" does not have the published content", p.ref,
							server),
					 errdetail("Its SHA-256 is %s; here it is %s. Nothing was published.",
							   hex[0] ? hex : "(not visible)", p.sha256_hex)));
		PQclear(MlpRemoteExec(conn, server, "COMMIT", 0, NULL, NULL, NULL, PGRES_COMMAND_OK));
	}
	PG_FINALLY();
	{
		/* closing without COMMIT rolls the remote transaction back */
		PQfinish(conn);
	}
	PG_END_TRY();
	PG_RETURN_TEXT_P(cstring_to_text(p.ref));
}

/*
 * mlp_classify_batch(model, query, servers): the query scored on every server, rows merged.
 * Called by mlp_classify_batch when servers is not null, with its materialised result set.
 */
void
MlpClassifyBatchOnServers(FunctionCallInfo fcinfo, const char *ref, const char *query,
						  ArrayType *servers)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PinnedVersion p;
	Datum	   *names;
	int			n;
	PGconn	  **conns;
	char	  **server;

	MlpArrayElements(servers, TEXTOID, "servers", &names, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("servers must name at least one server"),
				 errhint("Pass NULL to score here.")));
	ResolvePinned(ref, &p);
	server = palloc(sizeof(char *) * n);
	conns = palloc0(sizeof(PGconn *) * n);
	for (int i = 0; i < n; i++)
	{
		server[i] = TextDatumGetCString(names[i]);
		for (int j = 0; j < i; j++)
			if (strcmp(server[i], server[j]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("servers names \"%s\" twice", server[i])));
	}
	InitMaterializedSRF(fcinfo, 0);
	PG_TRY();
	{
		const char *params[2] = {p.ref, query};

		for (int i = 0; i < n; i++)
		{
			conns[i] = MlpRemoteConnect(server[i]);
			CheckPublished(conns[i], server[i], &p);
		}
		/* every server gets its statement before any answer is read: they work at once */
		for (int i = 0; i < n; i++)
			MlpRemoteSend(conns[i], server[i],
						  psprintf("SELECT id, class, confidence FROM %s.mlp_classify_batch($1, $2)",
								   MlpRemoteSchema(conns[i], server[i])),
						  2, params, NULL, NULL);
		for (int i = 0; i < n; i++)
		{
			PGresult   *res = MlpRemoteResult(conns[i], server[i], PGRES_TUPLES_OK);
			int			rows = PQntuples(res);

			for (int r = 0; r < rows; r++)
			{
				Datum		values[3];
				bool		nulls[3];

				for (int c = 0; c < 3; c++)
				{
					nulls[c] = PQgetisnull(res, r, c);
					if (nulls[c])
					{
						values[c] = (Datum) 0;
						continue;
					}
					values[c] = c == 0 ? DirectFunctionCall1(int8in, CStringGetDatum(PQgetvalue(res, r, c))) :
						c == 1 ? DirectFunctionCall1(int4in, CStringGetDatum(PQgetvalue(res, r, c))) :
						DirectFunctionCall1(float4in, CStringGetDatum(PQgetvalue(res, r, c)));
				}
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			}
			PQclear(res);
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_FINALLY();
	{
		for (int i = 0; i < n; i++)
			if (conns[i])
				PQfinish(conns[i]);
	}
	PG_END_TRY();
}
