/**
 * State that outlives a deployment: the one DynamoDB table (built from the shared TABLE_DEFINITION, so the table the
 * code, dynalite and AWS use cannot drift), the stack's Secrets Manager secret (stack-wide things only: the cursor
 * key), and the KMS key that encrypts tenants' Waygate API keys (DESIGN.md "Gateway credentials and discovery").
 */
import { RemovalPolicy, Validations } from "aws-cdk-lib";
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from "aws-cdk-lib/aws-dynamodb";
import { Grant, type IGrantable } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import { Secret } from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import { TABLE_DEFINITION } from "../../shared/storage/table.js";
import type { TableAccess } from "./app-function.js";

/**
 * The DynamoDB actions the repositories use. Deliberately narrower than `grantReadData`/`grantReadWriteData`: no
 * Scan (nothing scans), no streams, no transactions (every state change is one conditional write).
 * test/infra/iam-coverage.test.ts checks every command the code sends is in these lists.
 */
export const TABLE_READ_ACTIONS = [
  "dynamodb:GetItem",
  "dynamodb:BatchGetItem",
  "dynamodb:Query",
  "dynamodb:ConditionCheckItem",
] as const;
export const TABLE_WRITE_ACTIONS = [
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:BatchWriteItem",
] as const;

export interface DataStoreProps {
  /** Development stacks may be deleted with their data; production ones keep the table and secret. */
  dev: boolean;
}

/** The table, the stack secret and the credentials key, with least-privilege grants for the functions. */
export class DataStore extends Construct implements TableAccess {
  readonly table: Table;
  readonly secret: Secret;
  /** Encrypts tenants' Waygate keys (data keys with the tenant as encryption context); only granted functions use it. */
  readonly credentialsKey: Key;

  constructor(scope: Construct, id: string, props: DataStoreProps) {
    super(scope, id);
    const { partitionKey, sortKey, ttlAttribute, dueIndex, pausedIndex } = TABLE_DEFINITION;
    const removalPolicy = props.dev ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;

    this.table = new Table(this, "Table", {
      partitionKey: { name: partitionKey, type: AttributeType.STRING },
      sortKey: { name: sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: ttlAttribute,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: !props.dev,
      removalPolicy,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: dueIndex.name,
      partitionKey: { name: dueIndex.partitionKey, type: AttributeType.STRING },
      sortKey: { name: dueIndex.sortKey, type: AttributeType.STRING },
      projectionType: ProjectionType.ALL,
    });
    // Paused partitions only, keys only: the planner's PartitionsPaused gauge reads nothing else.
    this.table.addGlobalSecondaryIndex({
      indexName: pausedIndex.name,
      partitionKey: { name: pausedIndex.partitionKey, type: AttributeType.STRING },
      sortKey: { name: pausedIndex.sortKey, type: AttributeType.STRING },
      projectionType: ProjectionType.KEYS_ONLY,
    });

    this.secret = new Secret(this, "StackSecret", {
      description:
        'Reference Data Sync: JSON { "cursorSecret": key of pagination cursors, "previousCursorSecret"?: the key being rotated out }. No gateway key or webhook secret lives here: each tenant saves its own',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({}),
        generateStringKey: "cursorSecret",
        passwordLength: 64,
        excludePunctuation: true,
      },
      removalPolicy,
    });
    Validations.of(this.secret).acknowledge({
      id: "AwsSolutions-SMG4",
      reason:
        "The secret holds only the cursor key; it is rotated by hand with an overlap window (docs/RUNBOOK.md: the old key stays as previousCursorSecret until open cursors expire) rather than by a rotation Lambda",
    });

    this.credentialsKey = new Key(this, "CredentialsKey", {
      description: "Reference Data Sync: encrypts tenants' Waygate API keys (envelope encryption, tenant as context)",
      enableKeyRotation: true,
      removalPolicy,
    });
  }

  get tableName(): string {
    return this.table.tableName;
  }

  /** GetItem/BatchGetItem/Query on the table and the due index: no write action. */
  grantReadItems(grantee: IGrantable): Grant {
    return this.grant(grantee, TABLE_READ_ACTIONS);
  }

  /** The read actions plus item writes. */
  grantReadWriteItems(grantee: IGrantable): Grant {
    return this.grant(grantee, [...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS]);
  }

  /** Query on the paused index (GSI2): the planner's PartitionsPaused gauge only. */
  grantQueryPausedIndex(grantee: IGrantable): Grant {
    return Grant.addToPrincipal({
      grantee,
      actions: ["dynamodb:Query"],
      resourceArns: [`${this.table.tableArn}/index/${TABLE_DEFINITION.pausedIndex.name}`],
    });
  }

  /** Scan: tenant erasure only (a tenant's rows live under many keys; shared/lifecycle/erasure.ts). */
  grantScan(grantee: IGrantable): Grant {
    return this.grant(grantee, ["dynamodb:Scan"]);
  }

  private grant(grantee: IGrantable, actions: readonly string[]): Grant {
    return Grant.addToPrincipal({
      grantee,
      actions: [...actions],
      // The table and its due index by name: no `index/*` wildcard (the paused index is the planner's alone).
      resourceArns: [this.table.tableArn, `${this.table.tableArn}/index/${TABLE_DEFINITION.dueIndex.name}`],
    });
  }
}
