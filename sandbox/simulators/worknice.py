"""Simulated Worknice GraphQL API: people, person connections, profile writes, leave requests and balances.

Documented (../shared/specs/vendor-notes.md) and followed: `POST /api/graphql` with the header
`worknice-api-token`; `session { org { people(includeArchived:, status:) {...} } }`; `integration(id) {
connections { ... on PersonConnection { person { id } remote { id name } status } } }`; `createPersonConnection(
integrationId, remote: {id, name}, personId, status)`, `updatePersonConnection`, `completeIntegrationSync(
integrationId)`. The schema below is executed by graphql-core. PROVISIONAL (shared with hrsync/systems/
worknice.py): every other type, field and argument in SCHEMA: person `firstName`, `lastName`, `profileAddress`,
`taxDetails`, `bankAccounts`, `superFund`; `people(first:, after:)`, a page of at most `first` (1..500) people
after the person id `after` in ascending id order (without either, everyone at once); a connection's `id`;
`updatePersonConnection(id, remote, status)`; `updatePerson(personId, input)`; `org.leaveRequests(statuses)`;
`setLeaveBalances(personId, balances)`.

Control surface beyond the shared one (`/_sandbox/records` holds people in the GraphQL shape; departments are
not used):
- `PATCH /_sandbox/records/{personId}` `{...fields}`: an HR user edits a person in Worknice.
- `PUT|GET /_sandbox/leave-requests`: `[{id, personId, category, startDate, endDate, hours, status}]`;
  `PATCH /_sandbox/leave-requests/{id}` `{status}`: a manager approves, or someone cancels.
- `GET /_sandbox/leave-balances`: `{personId: {category: hours}}` as hrsync last set them.
- `GET|PUT /_sandbox/connections`: person connections `[{id, integrationId, personId, remote {id, name}, status}]`.
- `GET /_sandbox/integration-syncs`: the integration ids completeIntegrationSync was called with, in order.
- `GET /_sandbox/operations?since=N`: the GraphQL operations executed, in order from index N, each `{type: query|
  mutation, fields: [top-level field names]}` (the request log cannot tell a read from a write: all are POSTs).
"""

from __future__ import annotations

import argparse
import hmac
from collections.abc import Sequence
from typing import Any, Self

from graphql import FieldNode, GraphQLError, GraphQLSchema, OperationDefinitionNode, build_schema, graphql_sync, parse

from sandbox.simulators.base import HttpError, Request, Response, Simulator, route

DEFAULT_TOKEN = "sandbox-worknice-token"  # noqa: S105 - a local simulator's fixed token
TOKEN_HEADER = "worknice-api-token"  # noqa: S105 - the header's name

SCHEMA = """
enum PersonStatus { ACTIVE ARCHIVED PENDING }
enum ConnectionStatus { CONNECTED LOCAL_ONLY MERGED REMOTE_ONLY }
enum LeaveRequestStatus { APPROVED CANCELLED PENDING DECLINED }
type Address { street: String suburb: String state: String postcode: String country: String }
type TaxDetails { taxFileNumber: String taxFreeThreshold: Boolean residencyStatus: String helpDebt: Boolean }
type BankAccount {
  bsb: String accountNumber: String accountName: String percentage: Float amount: String balanceOfPay: Boolean
  order: Int
}
type Position { title: String }
type Job { position: Position }
type Location { name: String }
type Person {
  id: ID! displayName: String status: PersonStatus! employeeCode: String firstName: String lastName: String
  profileEmail: String profilePhone: String startDate: String superFund: String profileAddress: Address
  taxDetails: TaxDetails bankAccounts: [BankAccount!] currentJob: Job location: Location
}
type LeaveRequest {
  id: ID! person: Person category: String! startDate: String! endDate: String! hours: String!
  status: LeaveRequestStatus!
}
type Org {
  people(includeArchived: Boolean, status: [PersonStatus!], first: Int, after: ID): [Person!]!
  leaveRequests(statuses: [LeaveRequestStatus!]): [LeaveRequest!]!
}
type Session { org: Org! }
type Remote { id: ID! name: String }
type PersonConnection { id: ID! person: Person remote: Remote status: ConnectionStatus! }
union IntegrationConnection = PersonConnection
type Integration { id: ID! connections: [IntegrationConnection!]! }
type Query { session: Session! integration(id: ID!): Integration }
input RemoteInput { id: ID! name: String }
input AddressInput { street: String suburb: String state: String postcode: String country: String }
input TaxDetailsInput {
  taxFileNumber: String taxFreeThreshold: Boolean residencyStatus: String helpDebt: Boolean
}
input BankAccountInput {
  bsb: String accountNumber: String accountName: String percentage: Float amount: String balanceOfPay: Boolean
  order: Int
}
input PersonInput {
  firstName: String lastName: String profileEmail: String profilePhone: String superFund: String
  profileAddress: AddressInput taxDetails: TaxDetailsInput bankAccounts: [BankAccountInput!]
}
input LeaveBalanceInput { category: String! hours: String! }
type Mutation {
  createPersonConnection(
    integrationId: ID!, remote: RemoteInput!, personId: ID, status: ConnectionStatus!
  ): PersonConnection!
  updatePersonConnection(id: ID!, remote: RemoteInput, status: ConnectionStatus): PersonConnection!
  completeIntegrationSync(integrationId: ID!): Boolean!
  updatePerson(personId: ID!, input: PersonInput!): Person!
  setLeaveBalances(personId: ID!, balances: [LeaveBalanceInput!]!): Boolean!
}
"""
LEAVE_STATUSES = ("APPROVED", "CANCELLED", "PENDING", "DECLINED")
MAX_PAGE_SIZE = 500


class WorkniceSimulator(Simulator):
    """One Worknice organisation behind its GraphQL endpoint (schema partly provisional)."""

    display_name = "Worknice"
    default_port = 8105
    _schema: GraphQLSchema = build_schema(SCHEMA)

    def __init__(self, token: str = DEFAULT_TOKEN, *, port: int = 0) -> None:
        super().__init__(port=port)
        self.token = token
        self._people: dict[str, dict[str, Any]] = {}
        self._connections: dict[str, dict[str, Any]] = {}
        self._leave: dict[str, dict[str, Any]] = {}
        self._balances: dict[str, dict[str, str]] = {}
        self._syncs: list[str] = []
        self._operations: list[dict[str, Any]] = []
        self._next_id = 1

    # --- state hooks -------------------------------------------------------------------------------------
    def clear_state(self) -> None:
        self._people, self._connections, self._leave, self._balances, self._syncs = {}, {}, {}, {}, []
        self._operations, self._next_id = [], 1

    def load_records(self, records: list[Any]) -> None:
        people: dict[str, dict[str, Any]] = {}
        for index, record in enumerate(records):
            person_id = record.get("id") if isinstance(record, dict) else None
            if not isinstance(person_id, str) or not person_id.strip():
                raise HttpError(400, f"person {index} needs a non-empty id", extra={"index": index})
            if person_id in people:
                raise HttpError(400, f"person {index} repeats id {person_id}", extra={"index": index})
            people[person_id] = {"status": "ACTIVE", **record}
        self._people = people

    def dump_records(self) -> list[Any]:
        return [dict(p) for p in self._people.values()]

    def load_departments(self, departments: list[Any]) -> None:
        if departments:
            raise HttpError(400, "Worknice's simulator keeps no departments")

    def dump_departments(self) -> list[Any]:
        return []

    def is_authorized(self, request: Request) -> bool:
        return hmac.compare_digest(request.headers.get(TOKEN_HEADER, "").encode(), self.token.encode())

    # --- GraphQL -----------------------------------------------------------------------------------------
    @route("POST", "/api/graphql")
    def _graphql(self, request: Request) -> Any:
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            raise HttpError(400, "body must be {query, variables}")
        variables = body.get("variables") or {}
        if not isinstance(variables, dict):
            raise HttpError(400, "variables must be an object")
        self._record_operations(body["query"])
        result = graphql_sync(self._schema, body["query"], root_value=self._root(), variable_values=variables)
        answer: dict[str, Any] = {"data": result.data}
        if result.errors:
            answer["errors"] = [error.formatted for error in result.errors]
        return Response(200, answer)

    def _record_operations(self, document: str) -> None:
        try:
            parsed = parse(document)
        except GraphQLError:
            return  # graphql_sync answers the syntax error
        for definition in parsed.definitions:
            if isinstance(definition, OperationDefinitionNode):
                fields = [f.name.value for f in definition.selection_set.selections if isinstance(f, FieldNode)]
                self._operations.append({"type": definition.operation.value, "fields": fields})

    def _id(self, prefix: str) -> str:
        value = f"{prefix}-{self._next_id:04d}"
        self._next_id += 1
        return value

    def _connection_view(self, connection: dict[str, Any]) -> dict[str, Any]:
        return {
            "__typename": "PersonConnection",
            "id": connection["id"],
            "person": self._people.get(connection.get("personId") or ""),
            "remote": connection.get("remote"),
            "status": connection["status"],
        }

    def _root(self) -> dict[str, Any]:
        def people(
            _info: Any,
            includeArchived: bool = False,
            status: list[str] | None = None,
            first: int | None = None,
            after: str | None = None,
        ) -> list[Any]:
            found = [p for p in self._people.values() if includeArchived or p.get("status") != "ARCHIVED"]
            found = [p for p in found if status is None or p.get("status") in status]
            if first is None and after is None:
                return found  # the documented form: everyone at once
            if first is None or not 1 <= first <= MAX_PAGE_SIZE:
                raise ValueError(f"first must be 1 to {MAX_PAGE_SIZE}")
            ordered = sorted(found, key=lambda p: str(p["id"]))
            return [p for p in ordered if after is None or str(p["id"]) > after][:first]

        def leave_requests(_info: Any, statuses: list[str] | None = None) -> list[Any]:
            return [
                {**r, "person": self._people.get(r["personId"])}
                for r in self._leave.values()
                if statuses is None or r["status"] in statuses
            ]

        def integration(_info: Any, id: str) -> dict[str, Any]:
            mine = [c for c in self._connections.values() if c["integrationId"] == id]
            return {"id": id, "connections": [self._connection_view(c) for c in mine]}

        def create_connection(
            _info: Any,
            integrationId: str,
            remote: dict[str, Any],
            status: str,
            personId: str | None = None,
        ) -> dict[str, Any]:
            if personId is not None and personId not in self._people:
                raise ValueError(f"no person {personId}")
            for existing in self._connections.values():
                if existing["integrationId"] == integrationId and existing["remote"]["id"] == remote["id"]:
                    raise ValueError("a connection for that remote record exists already")
            connection = {
                "id": self._id("conn"),
                "integrationId": integrationId,
                "personId": personId,
                "remote": dict(remote),
                "status": status,
            }
            self._connections[connection["id"]] = connection
            return self._connection_view(connection)

        def update_connection(
            _info: Any,
            id: str,
            remote: dict[str, Any] | None = None,
            status: str | None = None,
        ) -> dict[str, Any]:
            connection = self._connections.get(id)
            if connection is None:
                raise ValueError(f"no person connection {id}")
            if remote is not None:
                connection["remote"] = dict(remote)
            if status is not None:
                connection["status"] = status
            return self._connection_view(connection)

        def complete_sync(_info: Any, integrationId: str) -> bool:
            self._syncs.append(integrationId)
            return True

        def update_person(_info: Any, personId: str, input: dict[str, Any]) -> dict[str, Any]:
            person = self._people.get(personId)
            if person is None:
                raise ValueError(f"no person {personId}")
            for name, value in input.items():
                person[name] = [dict(v) for v in value] if isinstance(value, list) else value
            return person

        def set_balances(_info: Any, personId: str, balances: list[dict[str, Any]]) -> bool:
            if personId not in self._people:
                raise ValueError(f"no person {personId}")
            self._balances[personId] = {b["category"]: b["hours"] for b in balances}
            return True

        return {
            "session": {"org": {"people": people, "leaveRequests": leave_requests}},
            "integration": integration,
            "createPersonConnection": create_connection,
            "updatePersonConnection": update_connection,
            "completeIntegrationSync": complete_sync,
            "updatePerson": update_person,
            "setLeaveBalances": set_balances,
        }

    # --- control surface ---------------------------------------------------------------------------------
    @route("PATCH", "/_sandbox/records/{personId}")
    def _control_edit(self, request: Request) -> Any:
        body = request.json()
        if not isinstance(body, dict):
            raise HttpError(400, "body must be an object of person fields")
        person = self._people.get(request.path_params["personId"])
        if person is None:
            raise HttpError(404, "No such person")
        person.update(body)
        return person

    @route("PUT", "/_sandbox/leave-requests")
    def _control_put_leave(self, request: Request) -> Any:
        loaded: dict[str, dict[str, Any]] = {}
        for index, entry in enumerate(self.json_list(request, "leave requests")):
            if not isinstance(entry, dict) or not all(
                isinstance(entry.get(k), str) for k in ("id", "personId", "category", "startDate", "endDate")
            ):
                raise HttpError(400, f"leave request {index} needs id, personId, category, startDate, endDate")
            if entry.get("status", "PENDING") not in LEAVE_STATUSES:
                raise HttpError(400, f"leave request {index}: status must be one of {', '.join(LEAVE_STATUSES)}")
            loaded[entry["id"]] = {"status": "PENDING", **entry, "hours": str(entry.get("hours", "0"))}
        self._leave = loaded
        return list(self._leave.values())

    @route("GET", "/_sandbox/leave-requests")
    def _control_get_leave(self, request: Request) -> Any:
        return list(self._leave.values())

    @route("PATCH", "/_sandbox/leave-requests/{requestId}")
    def _control_decide_leave(self, request: Request) -> Any:
        entry = self._leave.get(request.path_params["requestId"])
        if entry is None:
            raise HttpError(404, "No such leave request")
        body = request.json()
        status = body.get("status") if isinstance(body, dict) else None
        if status not in LEAVE_STATUSES:
            raise HttpError(400, f"status must be one of {', '.join(LEAVE_STATUSES)}")
        entry["status"] = status
        return entry

    @route("GET", "/_sandbox/leave-balances")
    def _control_balances(self, request: Request) -> Any:
        return self._balances

    @route("GET", "/_sandbox/connections")
    def _control_get_connections(self, request: Request) -> Any:
        return list(self._connections.values())

    @route("PUT", "/_sandbox/connections")
    def _control_put_connections(self, request: Request) -> Any:
        loaded = {}
        for index, entry in enumerate(self.json_list(request, "connections")):
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
                raise HttpError(400, f"connection {index} needs an id")
            loaded[entry["id"]] = entry
        self._connections = loaded
        return list(loaded.values())

    @route("GET", "/_sandbox/integration-syncs")
    def _control_syncs(self, request: Request) -> Any:
        return list(self._syncs)

    @route("GET", "/_sandbox/operations")
    def _control_operations(self, request: Request) -> Any:
        return self._operations[request.int_param("since", 0) :]

    # --- command line ------------------------------------------------------------------------------------
    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--token", default=DEFAULT_TOKEN)

    @classmethod
    def from_arguments(cls, args: argparse.Namespace) -> Self:
        return cls(token=args.token, port=args.port)


def main(argv: Sequence[str] | None = None) -> int:
    return WorkniceSimulator.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
