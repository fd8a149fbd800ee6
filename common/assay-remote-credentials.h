/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "assay-credentials.h"

G_BEGIN_DECLS

/*
 * Temporary credentials from the machine the program runs on, the last links of the
 * AWS CLI's chain (after the environment and the profiles):
 *
 * - an ECS or Fargate task's role: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (from
 *   http://169.254.170.2) or AWS_CONTAINER_CREDENTIALS_FULL_URI (http only to a loopback
 *   or the ECS/EKS link-local addresses), with AWS_CONTAINER_AUTHORIZATION_TOKEN or
 *   AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE sent as Authorization;
 * - an EC2 instance profile through IMDSv2 (a session token first, then the role's
 *   credentials) at http://169.254.169.254, or AWS_EC2_METADATA_SERVICE_ENDPOINT; not
 *   tried when AWS_EC2_METADATA_DISABLED is "true".
 *
 * Both give an expiration: assay_aws_transport_set_refresh() fetches new ones before it.
 * The fetch is blocking (short timeouts: the endpoints are on the link), for a worker
 * thread or the program's start.
 */

/* Returns: whether a container endpoint is configured or IMDS may be asked. */
gboolean          assay_remote_credentials_configured (void);

/* Returns: (transfer full): the credentials with their expiration, or %NULL with
 * ASSAY_CREDENTIALS_ERROR_NOT_FOUND (no endpoint answered: not on ECS or EC2) or
 * ASSAY_CREDENTIALS_ERROR_INVALID (an endpoint refused or answered nonsense, named in the
 * message). */
AssayCredentials *assay_remote_credentials_fetch      (GCancellable  *cancellable,
                                                       GError       **error);

G_END_DECLS
