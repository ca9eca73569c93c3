//! The ledger of accounts that contracts move money on ([Stream-Market] §3.2, where
//! the smart contract holds deposits and transfers payments).
//!
//! Amounts are whole money units (`i64`; the unit, e.g. 10⁻⁹ of a currency, is the
//! caller's), so conservation is exact: every [`Transfer`] has a payer and a payee
//! and moves the same amount out of one and into the other, the sum of all balances
//! never changes, and the escrow can pay out only what it holds. Participants'
//! balances may go negative (they are net payers); the escrow's never does.

use std::collections::BTreeMap;

use serde::Serialize;

use super::ContractError;

/// An account of the stream market.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case", tag = "role", content = "id")]
pub enum Account {
    /// A customer, by id.
    Customer(String),
    /// A supplier, by id.
    Supplier(String),
    /// The allocator (also the market's treasury for forfeited money).
    Allocator,
    /// The mediator.
    Mediator,
    /// The contracts' escrow: deposits and payments held until a contract closes.
    Escrow,
}

impl std::fmt::Display for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Account::Customer(id) => write!(f, "customer {id}"),
            Account::Supplier(id) => write!(f, "supplier {id}"),
            Account::Allocator => f.write_str("allocator"),
            Account::Mediator => f.write_str("mediator"),
            Account::Escrow => f.write_str("escrow"),
        }
    }
}

/// One transfer: `amount` money units from `payer` to `payee`, for a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transfer {
    /// The contract it belongs to.
    pub contract: usize,
    /// Who pays.
    pub payer: Account,
    /// Who is paid.
    pub payee: Account,
    /// Money units, ≥ 0.
    pub amount: i64,
    /// What for (`deposit`, `payment`, `fine`, …).
    pub memo: &'static str,
}

/// Balances and the list of every transfer.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Ledger {
    balances: BTreeMap<Account, i64>,
    transfers: Vec<Transfer>,
}

impl Ledger {
    /// An empty ledger: every balance 0.
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// Moves `amount` from `payer` to `payee`. Refused (nothing moves) when the
    /// amount is negative, the payer is the payee, the escrow would go below zero
    /// (escrow never creates money), or a balance would overflow.
    ///
    /// # Arguments
    /// * `contract`: the contract the transfer belongs to.
    /// * `payer`, `payee`: the two accounts.
    /// * `amount`: money units, ≥ 0.
    /// * `memo`: what for.
    ///
    /// # Returns
    /// `Ok(())` once recorded; the sum of all balances is unchanged.
    ///
    /// # Errors
    /// [`ContractError`] for a refused transfer.
    ///
    /// # Complexity
    /// O(log A) for A accounts.
    ///
    /// # Example
    /// ```
    /// use brokerflow_solvers::stream::{Account, Ledger};
    ///
    /// let mut l = Ledger::new();
    /// let c = Account::Customer("c1".into());
    /// l.transfer(0, c.clone(), Account::Escrow, 30, "deposit")?;
    /// l.transfer(0, Account::Escrow, c.clone(), 10, "refund")?;
    /// assert_eq!((l.balance(&c), l.balance(&Account::Escrow), l.total()), (-20, 20, 0));
    /// // The escrow pays out only what it holds.
    /// assert!(l.transfer(0, Account::Escrow, Account::Allocator, 21, "fee").is_err());
    /// # Ok::<_, brokerflow_solvers::stream::ContractError>(())
    /// ```
    ///
    /// Paper: [Stream-Market] §3.2 (the smart contract holds deposits and transfers
    /// payments).
    pub fn transfer(
        &mut self,
        contract: usize,
        payer: Account,
        payee: Account,
        amount: i64,
        memo: &'static str,
    ) -> Result<(), ContractError> {
        if amount < 0 {
            return Err(ContractError::NegativeAmount { contract, amount });
        }
        if payer == payee {
            return Err(ContractError::SelfTransfer {
                contract,
                account: payer,
            });
        }
        let from = self.balance(&payer);
        if payer == Account::Escrow && from < amount {
            return Err(ContractError::EscrowShort {
                contract,
                held: from,
                amount,
            });
        }
        let to = self.balance(&payee);
        let (Some(from), Some(to)) = (from.checked_sub(amount), to.checked_add(amount)) else {
            return Err(ContractError::Overflow { contract });
        };
        self.balances.insert(payer.clone(), from);
        self.balances.insert(payee.clone(), to);
        self.transfers.push(Transfer {
            contract,
            payer,
            payee,
            amount,
            memo,
        });
        Ok(())
    }

    /// An account's balance (0 if it never moved money).
    pub fn balance(&self, account: &Account) -> i64 {
        self.balances.get(account).copied().unwrap_or(0)
    }

    /// Σ of all balances: 0 for a ledger built by transfers only.
    pub fn total(&self) -> i128 {
        self.balances.values().map(|&b| i128::from(b)).sum()
    }

    /// Every balance, by account.
    pub fn balances(&self) -> &BTreeMap<Account, i64> {
        &self.balances
    }

    /// Every transfer, in order.
    pub fn transfers(&self) -> &[Transfer] {
        &self.transfers
    }
}
