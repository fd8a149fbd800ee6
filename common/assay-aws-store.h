/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "assay-config.h"
#include "assay-dynamodb-client.h"
#include "assay-s3-client.h"
#include "assay-store.h"

G_BEGIN_DECLS

/*
 * AssayAwsStore: the AssayStore on S3 and DynamoDB, or on services that speak their
 * protocols (MinIO, Ceph, Garage; DynamoDB Local, ScyllaDB Alternator). Objects go to
 * the S3 client, items to the DynamoDB client; their errors are mapped to
 * ASSAY_STORE_ERROR here, keeping their messages.
 */

/* The attribute that DynamoDB's time to live reads, where the service has it. */
#define ASSAY_AWS_STORE_TTL_ATTRIBUTE "expires"

#define ASSAY_TYPE_AWS_STORE (assay_aws_store_get_type ())
G_DECLARE_FINAL_TYPE (AssayAwsStore, assay_aws_store, ASSAY, AWS_STORE, GObject)

AssayAwsStore       *assay_aws_store_new              (AssayS3Client       *s3,
                                                       AssayDynamodbClient *dynamodb,
                                                       const char          *jobs_table,
                                                       const char          *results_table);
AssayAwsStore       *assay_aws_store_new_for_config   (AssayConfig         *config,
                                                       GError             **error);
AssayS3Client       *assay_aws_store_get_s3           (AssayAwsStore       *self);
AssayDynamodbClient *assay_aws_store_get_dynamodb     (AssayAwsStore       *self);

G_END_DECLS
